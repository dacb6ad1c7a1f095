internal import CLibPQ

/// A statement known at compile time: its name, SQL with `$n` parameters, its binds and how to decode a row.
///
/// ```swift
/// struct CouponByCode: PreparedStatement {
///     static let name = "coupon_by_code"
///     static let sql = "SELECT id, state FROM coupons WHERE code = $1"
///     let code: String
///     var binds: [(any PostgresBindable)?] { [code] }
///     static func decode(_ row: PostgresRow) throws -> (Int64, String) { (try row.int64(0), try row.string(1)) }
/// }
/// let rows = try connection.run(CouponByCode(code: "X"))
/// ```
public protocol PreparedStatement {
    associatedtype Row
    /// Unique per SQL text within one session.
    static var name: String { get }
    static var sql: String { get }
    var binds: [(any PostgresBindable)?] { get }
    static func decode(_ row: PostgresRow) throws -> Row
}

extension PostgresConnection {
    /// Prepares `S` on first use in this session, then executes it and decodes every row.
    /// If the server lost the statement (SQLSTATE 26000, e.g. after `DEALLOCATE` or `DISCARD ALL`), re-prepares once.
    public func run<S: PreparedStatement>(_ statement: S) throws -> [S.Row] {
        let rows = try runRows(statement)
        return try rows.rows.map(S.decode)
    }

    /// Like `run`, without decoding: for statements whose interesting result is `rowsAffected`.
    @discardableResult
    public func runRows<S: PreparedStatement>(_ statement: S) throws -> PostgresRows {
        let binds = statement.binds
        try prepareIfNeeded(S.self, parameterCount: binds.count)
        do {
            return try executePrepared(S.name, binds)
        } catch let error as PostgresError where error.sqlState == "26000" {
            preparedNames.remove(S.name)
            try prepareIfNeeded(S.self, parameterCount: binds.count)
            return try executePrepared(S.name, binds)
        }
    }

    /// Forgets the statements this connection believes are prepared (after `DISCARD ALL`, say).
    public func forgetPreparedStatements() { preparedNames.removeAll() }

    private func prepareIfNeeded<S: PreparedStatement>(_ type: S.Type, parameterCount: Int) throws {
        guard !preparedNames.contains(S.name) else { return }
        do {
            _ = try consume(PQprepare(handle, S.name, S.sql, Int32(parameterCount), nil), .queryFailed)
        } catch let error as PostgresError where error.sqlState == "42P05" {
            // duplicate_prepared_statement: the session already has it (prepared behind our back); use it.
        }
        preparedNames.insert(S.name)
    }

    private func executePrepared(_ name: String, _ binds: [(any PostgresBindable)?]) throws -> PostgresRows {
        let result = withParameters(binds) { values, count in
            PQexecPrepared(handle, name, count, values, nil, nil, 0)
        }
        return try consume(result, .queryFailed)
    }
}
