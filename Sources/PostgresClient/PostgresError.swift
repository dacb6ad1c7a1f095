/// An error from PostgreSQL or libpq, with a stable `code` and the server's SQLSTATE when there is one.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases; switch on this, not on `message`.
    public enum Code: String, Sendable, Equatable {
        case connectionFailed
        case connectionClosed
        case queryFailed
        case copyFailed
        case decodingFailed
        case poolTimeout
        case poolClosed
        case transactionRolledBack
        case invalidMigrations
    }

    public let code: Code
    /// The five-character SQLSTATE (`23505`, `40001`, ...) reported by the server, if any.
    public let sqlState: String?
    public let message: String

    public init(_ code: Code, sqlState: String? = nil, _ message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    /// unique_violation: the row already exists.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// serialization_failure: retry the whole transaction.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// deadlock_detected: retry the whole transaction.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// The connection is unusable: connect failure, lost connection, class 08, or the server shutting down (57P0x).
    public var isConnectionError: Bool {
        if code == .connectionFailed || code == .connectionClosed { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P0")
    }

    public var description: String {
        "PostgresError.\(code.rawValue)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}
