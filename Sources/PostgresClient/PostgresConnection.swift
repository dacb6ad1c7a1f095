internal import CLibPQ
import EventLoop
import Glibc

/// `PG_DIAG_SQLSTATE` is the character macro `'C'`, which Swift does not import.
let diagSQLState = Int32(UInt8(ascii: "C"))

/// One blocking libpq connection (`PGconn`), the owner of everything PostgresClient does.
///
/// PostgresClient owns connections, transactions, COPY and migrations. It never runs on an
/// event loop or Swift's cooperative pool: call it from dedicated worker threads. It knows
/// nothing of coupons; the SQL lives in repositories (`Store`, and one per domain target).
///
/// `@unchecked Sendable`: a connection may move between threads but is used by one at a time
/// (each worker or background thread owns its own); libpq connections are not thread-safe.
public final class PostgresConnection: @unchecked Sendable {
    private let conn: OpaquePointer

    /// Opens a connection; `conninfo` is libpq's `host=... port=... dbname=... user=...`.
    public init(conninfo: String) throws {
        guard let conn = PQconnectdb(conninfo) else {
            throw PostgresError(.connectionFailed, "PQconnectdb returned NULL (out of memory)")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = PostgresConnection.trimmed(PQerrorMessage(conn))
            PQfinish(conn)  // also after a failed connect
            throw PostgresError(.connectionFailed, message)
        }
        self.conn = conn
        // Server notices (e.g. "relation already exists, skipping") would otherwise go to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(conn) }

    /// False once libpq has seen the connection break; such a connection must be replaced.
    public var isUsable: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Checks an idle connection without a round trip: between queries the server has nothing
    /// to say unless it is going away (a restart sends a FATAL, then closes), so a readable
    /// socket means the session must be replaced. (A stray notice costs one reconnect; we never
    /// LISTEN.) One `poll` with a zero timeout; call it only between queries.
    public func isAliveWhenIdle() -> Bool {
        guard PQstatus(conn) == CONNECTION_OK else { return false }
        let socket = PQsocket(conn)
        guard socket >= 0 else { return false }
        return !Posix.isReadableNow(socket)
    }

    /// A background writer's session (the grant and points flushers): `existing` when it is
    /// still alive between queries, else a new connection with the client timeouts and
    /// `synchronous_commit = on` (a flushed batch is durable before its entries are acked,
    /// whatever the server's default).
    public static func durableWriter(reusing existing: PostgresConnection?, conninfo: String) throws -> PostgresConnection {
        if let existing, existing.isAliveWhenIdle() { return existing }
        let connection = try PostgresConnection(conninfo: Conninfo.withTimeouts(conninfo))
        _ = try connection.execute("SET synchronous_commit = on")
        return connection
    }

    /// True while inside a transaction block (idle-in-transaction, active, or failed).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The server's process id for this session (for `pg_terminate_backend` in tests and logs).
    public var backendPID: Int { Int(PQbackendPID(conn)) }

    /// Runs one statement with `$1...$n` text-format parameters (`nil` is NULL).
    @discardableResult
    public func execute(_ sql: String, _ binds: [(any PostgresBindable)?] = []) throws -> PostgresRows {
        let result = withParameters(binds) { values, count in
            PQexecParams(conn, sql, count, nil, values, nil, nil, 0)
        }
        return try consume(result, .queryFailed)
    }

    /// Runs a script of several `;`-separated statements in one round trip (simple protocol, no binds).
    /// For migrations and setup; returns the result of the last statement.
    @discardableResult
    public func executeScript(_ sql: String) throws -> PostgresRows {
        try consume(PQexec(conn, sql), .queryFailed)
    }

    /// One round trip: true when the server answers `SELECT 1` (readiness probes).
    public func ping() throws -> Bool {
        try execute("SELECT 1").first?.int(0) == 1
    }

    /// Cancels any later statement of this session that runs longer than `seconds` (0: never);
    /// the error's condition is `queryCanceled`.
    public func setStatementTimeout(seconds: Int) throws {
        try execute("SELECT set_config('statement_timeout', $1, false)", ["\(seconds)s"])
    }

    // MARK: Internals shared by the extensions

    /// Passes `binds` to libpq as C strings that live for the duration of `body`.
    func withParameters<T>(_ binds: [(any PostgresBindable)?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int32) -> T) -> T {
        if binds.isEmpty { return body(nil, 0) }
        let strings: [UnsafeMutablePointer<CChar>?] = binds.map { bind in bind.map { strdup($0.postgresText) } }
        defer { for string in strings { free(string) } }
        let pointers: [UnsafePointer<CChar>?] = strings.map { $0.map { UnsafePointer($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress, Int32(binds.count)) }
    }

    /// Copies a `PGresult` into Swift values, frees it, and throws on an error status.
    func consume(_ result: OpaquePointer?, _ code: PostgresError.Code) throws -> PostgresRows {
        guard let result else { throw connectionError(code) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY || status == PGRES_SINGLE_TUPLE else {
            throw error(from: result, code)
        }
        return PostgresConnection.copy(result)
    }

    /// The error a failed result carries, with its SQLSTATE; `connectionClosed` if the connection died.
    func error(from result: OpaquePointer, _ code: PostgresError.Code) -> PostgresError {
        let sqlState = PQresultErrorField(result, diagSQLState).map { String(cString: $0) }
        var message = PostgresConnection.trimmed(PQresultErrorMessage(result))
        if message.isEmpty { message = PostgresConnection.trimmed(PQerrorMessage(conn)) }
        if message.isEmpty { message = "unexpected result status \(String(cString: PQresStatus(PQresultStatus(result))))" }
        let finalCode = (sqlState == nil && PQstatus(conn) != CONNECTION_OK) ? .connectionClosed : code
        return PostgresError(finalCode, sqlState: sqlState, message)
    }

    /// An error built from the connection when libpq returned no result at all.
    func connectionError(_ code: PostgresError.Code) -> PostgresError {
        let message = PostgresConnection.trimmed(PQerrorMessage(conn))
        return PostgresError(PQstatus(conn) == CONNECTION_OK ? code : .connectionClosed, message.isEmpty ? "no result from libpq" : message)
    }

    /// The raw connection, for the extensions in this module only.
    var handle: OpaquePointer { conn }

    static func copy(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns = [String]()
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var rows = [PostgresRow]()
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values = [String?]()
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let affected = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        return PostgresRows(columns: columns, rows: rows, rowsAffected: affected, commandTag: tag)
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        var text = String(cString: message)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
