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

    @Test func aNestedTransactionIsASavepointOfTheOuterOne() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE t (v int)")
        // The inner one succeeds, the outer one throws afterwards: nothing stays.
        #expect(throws: Boom.self) {
            try connection.transaction { outer in
                try outer.execute("INSERT INTO t VALUES (1)")
                try outer.transaction { inner in try inner.execute("INSERT INTO t VALUES (2)") }
                #expect(outer.isInTransaction)
                throw Boom()
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.execute("SELECT count(*) FROM t")[0].int(0) == 0)
        // The inner one throws and the outer one goes on: only the inner work is undone.
        try connection.transaction { outer in
            try outer.execute("INSERT INTO t VALUES (1)")
            #expect(throws: Boom.self) {
                try outer.transaction { inner in
                    try inner.execute("INSERT INTO t VALUES (2)")
                    try inner.transaction { innermost in try innermost.execute("INSERT INTO t VALUES (3)") }
                    throw Boom()
                }
            }
            try outer.transaction { inner in try inner.execute("INSERT INTO t VALUES (4)") }
        }
        #expect(try connection.execute("SELECT array_agg(v ORDER BY v)::text FROM t")[0].string(0) == "{1,4}")
    }
}
