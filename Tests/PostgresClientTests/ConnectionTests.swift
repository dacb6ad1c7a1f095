import Foundation
import PostgresClient
import Testing
import TestSupport

/// A connection to a fresh database on the shared test cluster.
func freshConnection(_ prefix: String = "pgc") throws -> PostgresConnection {
    try PostgresConnection(conninfo: PostgresServer.shared().createDatabase(prefix: prefix))
}

@Suite struct ConnectionTests {
    @Test func selectsColumnsByIndexAndName() throws {
        let connection = try freshConnection()
        let rows = try connection.execute("SELECT 1 AS one, NULL::text AS nothing")
        #expect(rows.columns == ["one", "nothing"])
        #expect(rows.count == 1)
        #expect(try rows[0].int(0) == 1)
        #expect(try rows[0].int("one") == 1)
        #expect(try rows[0].optionalString(1) == nil)
        #expect(try rows[0].optionalString("nothing") == nil)
    }

    @Test func roundTripsEveryBindableType() throws {
        let connection = try freshConnection()
        let bytes: [UInt8] = [0, 1, 0x5C, 0x7F, 0x80, 0xFF, 0x0A]
        let date = Date(timeIntervalSince1970: 1_714_566_600.123456)
        let rows = try connection.execute(
            "SELECT $1::text, $2::int8, $3::int8, $4::int4, $5::bool, $6::bool, $7::float8, $8::bytea, $9::timestamptz, $10::text, $11::bytea",
            ["héllo ✓ 🎟️ 'quoted'; --", Int.min, Int64.max, Int32(-7), true, false, 0.1, bytes, date, nil, [UInt8]()]
        )
        let row = rows[0]
        #expect(try row.string(0) == "héllo ✓ 🎟️ 'quoted'; --")
        #expect(try row.int(1) == Int.min)
        #expect(try row.int64(2) == Int64.max)
        #expect(try row.int32(3) == -7)
        #expect(try row.bool(4) == true)
        #expect(try row.bool(5) == false)
        #expect(try row.double(6) == 0.1)
        #expect(try row.bytes(7) == bytes)
        #expect(try row.date(8) == date)
        #expect(try row.isNull(9))
        #expect(try row.optionalInt(9) == nil)
        #expect(try row.bytes(10) == [])
    }

    @Test func roundTripsSpecialDoublesAndDatesInOtherTimeZones() throws {
        let connection = try freshConnection()
        try connection.execute("SET TimeZone = 'Asia/Kolkata'")
        let date = Date(timeIntervalSince1970: 86_400 * 365.25 * 30 + 0.5)
        let row = try connection.execute("SELECT $1::float8, $2::float8, $3::float8, $4::timestamptz", [Double.infinity, -Double.infinity, 1e300, date])[0]
        #expect(try row.double(0) == .infinity)
        #expect(try row.double(1) == -.infinity)
        #expect(try row.double(2) == 1e300)
        #expect(try row.date(3) == date)
        #expect(try row.string(3).hasSuffix("+05:30"))
    }

    @Test func decodingMismatchThrowsDecodingFailed() throws {
        let connection = try freshConnection()
        let row = try connection.execute("SELECT 'abc'::text AS word, NULL::int AS missing")[0]
        #expect(throws: PostgresError.self) { try row.int(0) }
        do {
            _ = try row.int("missing")
            Issue.record("expected decodingFailed")
        } catch let error as PostgresError {
            #expect(error.code == .decodingFailed)
        }
        do {
            _ = try row.string("nope")
            Issue.record("expected decodingFailed")
        } catch let error as PostgresError {
            #expect(error.code == .decodingFailed)
        }
    }

    @Test func uniqueViolationCarriesSQLState() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE codes (code text PRIMARY KEY)")
        let inserted = try connection.execute("INSERT INTO codes VALUES ($1)", ["A"])
        #expect(inserted.rowsAffected == 1)
        do {
            try connection.execute("INSERT INTO codes VALUES ($1)", ["A"])
            Issue.record("expected a unique violation")
        } catch let error as PostgresError {
            #expect(error.code == .queryFailed)
            #expect(error.sqlState == "23505")
            #expect(error.condition == .uniqueViolation)
            #expect(!error.isConnectionError)
            #expect(!error.isUnavailable)
        }
        // The connection is still usable after a statement error.
        #expect(try connection.execute("SELECT count(*) FROM codes")[0].int(0) == 1)
    }

    @Test func syntaxErrorCarriesSQLState() throws {
        let connection = try freshConnection()
        do {
            try connection.execute("SELEC 1")
            Issue.record("expected a syntax error")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42601")
            #expect(error.condition == .other("42601"))
        }
    }

    @Test func badValueAndStatementTimeoutAreTypedConditions() throws {
        let connection = try freshConnection()
        do {
            try connection.execute("SELECT $1::date", ["2026-02-30"])
            Issue.record("expected a data exception")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22008")
            #expect(error.condition == .invalidValue)
            #expect(!error.isUnavailable)
        }
        try connection.execute("SET statement_timeout = '50ms'")
        do {
            try connection.execute("SELECT pg_sleep(5)")
            Issue.record("expected the statement timeout")
        } catch let error as PostgresError {
            #expect(error.condition == .queryCanceled)
            #expect(error.isUnavailable)
            #expect(!error.isConnectionError)
        }
    }

    @Test func sqlStatesMapToConditions() {
        #expect(PostgresError.Condition(sqlState: "23505") == .uniqueViolation)
        #expect(PostgresError.Condition(sqlState: "23503") == .foreignKeyViolation)
        #expect(PostgresError.Condition(sqlState: "22007") == .invalidValue)
        #expect(PostgresError.Condition(sqlState: "40001") == .retryTransaction)
        #expect(PostgresError.Condition(sqlState: "40P01") == .retryTransaction)
        #expect(PostgresError.Condition(sqlState: "57014") == .queryCanceled)
        #expect(PostgresError.Condition(sqlState: "08006") == .connectionLost)
        #expect(PostgresError.Condition(sqlState: "57P01") == .connectionLost)
        #expect(PostgresError.Condition(sqlState: "42P01") == .other("42P01"))
        #expect(PostgresError(.connectionClosed, "gone").isUnavailable)
        #expect(PostgresError(.queryFailed, sqlState: "57P03", "starting up").isConnectionError)
    }

    @Test func rowsAffectedAndScript() throws {
        let connection = try freshConnection()
        try connection.executeScript("CREATE TABLE n (v int); INSERT INTO n SELECT generate_series(1, 5);")
        let updated = try connection.execute("UPDATE n SET v = v + 1 WHERE v > $1", [2])
        #expect(updated.rowsAffected == 3)
        #expect(updated.commandTag == "UPDATE 3")
        let values = try connection.execute("SELECT v FROM n ORDER BY v").rows.map { try $0.int(0) }
        #expect(values == [1, 2, 4, 5, 6])
    }

    @Test func connectFailureIsConnectionError() throws {
        let port = TestEnvironment.freePort()
        do {
            _ = try PostgresConnection(conninfo: "host=127.0.0.1 port=\(port) dbname=x user=postgres connect_timeout=2")
            Issue.record("expected connectionFailed")
        } catch let error as PostgresError {
            #expect(error.code == .connectionFailed)
            #expect(error.isConnectionError)
        }
    }

    @Test func terminatedBackendIsConnectionError() throws {
        let connection = try freshConnection()
        let admin = try PostgresConnection(conninfo: PostgresServer.shared().conninfo())
        try admin.execute("SELECT pg_terminate_backend($1)", [connection.backendPID])
        do {
            try connection.execute("SELECT 1")
            Issue.record("expected a connection error")
        } catch let error as PostgresError {
            #expect(error.isConnectionError)
        }
        #expect(!connection.isUsable)
    }
}
