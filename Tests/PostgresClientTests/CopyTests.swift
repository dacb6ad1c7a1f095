import PostgresClient
import Testing
import TestSupport

@Suite struct CopyTests {
    @Test func copiesAwkwardValuesExactly() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE c (id int, a text, b text)")
        let input: [[String?]] = [
            ["1", "tab\there", "new\nline"],
            ["2", "back\\slash \\N \\t", nil],
            ["3", "cr\r\nlf", ""],
            ["4", nil, "ünïcødé 🎟️"],
            ["5", "\\", "end\\"],
        ]
        #expect(try connection.copyIn("COPY c (id, a, b) FROM STDIN", rows: input) == 5)
        let output = try connection.execute("SELECT id::text, a, b FROM c ORDER BY id").rows.map(\.values)
        #expect(output == input)
    }

    @Test func copiesManyRowsAcrossChunks() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE c (id int PRIMARY KEY, payload text)")
        let payload = String(repeating: "x", count: 100)
        let rows: [[String?]] = (1...20_000).map { [String($0), payload] }
        #expect(try connection.copyIn("COPY c FROM STDIN", rows: rows) == 20_000)
        #expect(try connection.execute("SELECT count(*), sum(id) FROM c")[0].values == ["20000", "200010000"])
    }

    @Test func copyErrorCarriesSQLStateAndConnectionRecovers() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE c (id int PRIMARY KEY)")
        do {
            _ = try connection.copyIn("COPY c (id) FROM STDIN", rows: [["1"], ["1"]])
            Issue.record("expected a unique violation")
        } catch let error as PostgresError {
            #expect(error.code == .copyFailed)
            #expect(error.sqlState == "23505")
        }
        do {
            _ = try connection.copyIn("COPY missing (id) FROM STDIN", rows: [["1"]])
            Issue.record("expected undefined_table")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42P01")
        }
        #expect(try connection.copyIn("COPY c (id) FROM STDIN", rows: [["7"]]) == 1)
        #expect(try connection.execute("SELECT id FROM c")[0].int(0) == 7)
    }
}
