/// An error from PostgreSQL or libpq, with a stable `code` and the server's SQLSTATE as a
/// typed `condition` when there is one.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases; switch on this, not on `message`.
    public enum Code: String, Sendable, Equatable {
        case connectionFailed
        case connectionClosed
        case queryFailed
        case copyFailed
        case decodingFailed
        case transactionRolledBack
        case invalidMigrations
    }

    /// The SQLSTATEs the code acts on, as cases; every other state is `other`.
    public enum Condition: Sendable, Equatable {
        /// 23505 unique_violation: the row already exists.
        case uniqueViolation
        /// 23503 foreign_key_violation.
        case foreignKeyViolation
        /// Class 22 (data exception): a value the server cannot interpret, e.g. a bad date.
        case invalidValue
        /// 40001 serialization_failure or 40P01 deadlock_detected: retry the whole transaction.
        case retryTransaction
        /// 57014 query_canceled, e.g. by `statement_timeout`.
        case queryCanceled
        /// Class 08 (connection exception) or 57P0x (the server is shutting down).
        case connectionLost
        case other(String)

        public init(sqlState: String) {
            switch sqlState {
            case "23505": self = .uniqueViolation
            case "23503": self = .foreignKeyViolation
            case "40001", "40P01": self = .retryTransaction
            case "57014": self = .queryCanceled
            case _ where sqlState.hasPrefix("22"): self = .invalidValue
            case _ where sqlState.hasPrefix("08") || sqlState.hasPrefix("57P0"): self = .connectionLost
            default: self = .other(sqlState)
            }
        }
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

    /// The server's SQLSTATE as a case; nil when the error came from libpq alone.
    public var condition: Condition? { sqlState.map(Condition.init(sqlState:)) }

    /// The connection is unusable: connect failure, lost connection, class 08, or the server shutting down (57P0x).
    public var isConnectionError: Bool {
        code == .connectionFailed || code == .connectionClosed || condition == .connectionLost
    }

    /// PostgreSQL cannot answer now (unreachable, restarting, or a statement ran past its
    /// timeout): the API's 503, retried by the client; anything else is a bug or a broken invariant.
    public var isUnavailable: Bool { isConnectionError || condition == .queryCanceled }

    public var description: String {
        "PostgresError.\(code.rawValue)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}
