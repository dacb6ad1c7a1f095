import Foundation
import PostgresClient
import Synchronization
import Testing
import TestSupport

@Suite struct PoolTests {
    @Test func eightThreadsShareTwoConnections() throws {
        let conninfo = try PostgresServer.shared().createDatabase(prefix: "pool")
        try PostgresConnection(conninfo: conninfo).execute("CREATE TABLE runs (thread int, pid int)")
        let pool = PostgresPool(conninfo: conninfo, size: 2, acquireTimeoutSeconds: 30)
        let inFlight = Atomic<Int>(0)
        let maxInFlight = Atomic<Int>(0)
        let errors = onThreads(8) { index in
            try pool.withConnection { connection in
                let now = inFlight.add(1, ordering: .relaxed).newValue
                _ = maxInFlight.max(now, ordering: .relaxed)
                defer { inFlight.subtract(1, ordering: .relaxed) }
                try connection.execute("SELECT pg_sleep(0.05)")
                try connection.execute("INSERT INTO runs VALUES ($1, pg_backend_pid())", [index])
            }
        }
        #expect(errors == Array(repeating: nil, count: 8))
        #expect(maxInFlight.load(ordering: .relaxed) <= 2)
        let summary = try pool.withConnection { try $0.execute("SELECT count(*), count(DISTINCT thread), count(DISTINCT pid) <= 2 FROM runs")[0] }
        #expect(try summary.int(0) == 8)
        #expect(try summary.int(1) == 8)
        #expect(try summary.bool(2))
        #expect(pool.idleCount == 2)
    }

    @Test func timesOutWhenEveryConnectionIsBusy() throws {
        let pool = PostgresPool(conninfo: try PostgresServer.shared().createDatabase(prefix: "pool"), size: 1, acquireTimeoutSeconds: 0.2)
        let started = Date()
        do {
            try pool.withConnection { _ in
                try pool.withConnection { _ in Issue.record("second connection handed out") }
            }
            Issue.record("expected poolTimeout")
        } catch let error as PostgresError {
            #expect(error.code == .poolTimeout)
        }
        #expect(Date().timeIntervalSince(started) >= 0.2)
        // The permit came back: the pool still works.
        #expect(pool.check())
    }

    @Test func dropsConnectionAfterConnectionError() throws {
        let server = try PostgresServer.shared()
        let pool = PostgresPool(conninfo: try server.createDatabase(prefix: "pool"), size: 1)
        let firstPID = try pool.withConnection { $0.backendPID }
        do {
            try pool.withConnection { connection in
                try PostgresConnection(conninfo: server.conninfo()).execute("SELECT pg_terminate_backend($1)", [connection.backendPID])
                try connection.execute("SELECT 1")
            }
            Issue.record("expected a connection error")
        } catch let error as PostgresError {
            #expect(error.isConnectionError)
        }
        let secondPID = try pool.withConnection { $0.backendPID }
        #expect(secondPID != firstPID)
    }

    @Test func checkFailsWhenUnreachable() {
        let pool = PostgresPool(conninfo: "host=127.0.0.1 port=\(TestEnvironment.freePort()) user=postgres connect_timeout=1", size: 1)
        #expect(!pool.check())
        do {
            try pool.withConnection { _ in }
            Issue.record("expected connectionFailed")
        } catch let error as PostgresError {
            #expect(error.code == .connectionFailed)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func healsAfterServerRestart() throws {
        let server = try PostgresServer.startNew()
        defer { server.stop() }
        let pool = PostgresPool(conninfo: try server.createDatabase(prefix: "heal"), size: 2, acquireTimeoutSeconds: 2)
        #expect(pool.check())
        let before = try pool.withConnection { $0.backendPID }

        server.stop()
        #expect(!pool.check())

        try server.start()
        #expect(pool.check())
        let after = try pool.withConnection { try $0.execute("SELECT pg_backend_pid()")[0].int(0) }
        #expect(after != before)

        // A restart while connections sit idle: they are noticed and replaced, no caller sees an error.
        try server.restart()
        let values = try (0..<3).map { _ in try pool.withConnection { try $0.execute("SELECT 42")[0].int(0) } }
        #expect(values == [42, 42, 42])
    }
}
