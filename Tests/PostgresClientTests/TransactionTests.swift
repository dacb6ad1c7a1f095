import PostgresClient
import Testing
import TestSupport

struct Boom: Error {}

@Suite struct TransactionTests {
    @Test func commitsOnSuccess() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE t (v int)")
        let result = try connection.transaction { conn in
            try conn.execute("INSERT INTO t VALUES (1), (2)").rowsAffected
        }
        #expect(result == 2)
        #expect(!connection.isInTransaction)
        #expect(try connection.execute("SELECT count(*) FROM t")[0].int(0) == 2)
    }

    @Test func rollsBackOnThrow() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE t (v int)")
        #expect(throws: Boom.self) {
            try connection.transaction { conn in
                try conn.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.execute("SELECT count(*) FROM t")[0].int(0) == 0)
    }

    @Test func swallowedStatementErrorMakesCommitThrow() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE t (v int PRIMARY KEY)")
        do {
            try connection.transaction { conn in
                try conn.execute("INSERT INTO t VALUES (1)")
                _ = try? conn.execute("INSERT INTO t VALUES (1)")
            }
            Issue.record("expected transactionRolledBack")
        } catch let error as PostgresError {
            #expect(error.code == .transactionRolledBack)
        }
        #expect(try connection.execute("SELECT count(*) FROM t")[0].int(0) == 0)
    }
}
