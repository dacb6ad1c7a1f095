import Foundation
import PostgresClient
import Testing
import TestSupport

@Suite struct ConnectionTests {
    @Test func selectsOne() throws {
        let connection = try PostgresConnection(conninfo: PostgresServer.shared().createDatabase())
        let rows = try connection.execute("SELECT 1 AS one, NULL::text AS nothing")
        #expect(rows.columns == ["one", "nothing"])
        #expect(try rows[0].int(0) == 1)
        #expect(try rows[0].int("one") == 1)
        #expect(try rows[0].optionalString(1) == nil)
    }
}
