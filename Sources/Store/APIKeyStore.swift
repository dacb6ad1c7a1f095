import PostgresClient

/// API keys: only the SHA-256 of a key is stored; the key itself is shown once at creation.
public enum APIKeyStore {
    public static func insert(
        hash: String, role: String, label: String, storeId: String? = nil, businessLine: String? = nil,
        on connection: PostgresConnection
    ) throws -> Int64 {
        try connection.execute(
            "INSERT INTO api_keys (key_hash, role, label, store_id, business_line) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            [hash, role, label, storeId, businessLine]
        ).first!.int64(0)
    }

    /// Who an unrevoked key acts as: its role, label and, for a `store` key, its store and line.
    public struct Holder: Sendable, Equatable {
        public let role: String
        public let label: String
        public let storeId: String?
        public let businessLine: String?
    }

    public static func holder(forHash hash: String, on connection: PostgresConnection) throws -> Holder? {
        try connection.execute(
            "SELECT role, label, store_id, business_line FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", [hash]
        ).first.map { row in
            Holder(role: try row.string(0), label: try row.string(1), storeId: try row.optionalString(2), businessLine: try row.optionalString(3))
        }
    }

    /// The role of an unrevoked key with this hash.
    public static func role(forHash hash: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute(
            "SELECT role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", [hash]
        ).first?.string(0)
    }

    /// A key as operators see it: never the key or its hash.
    public struct Listing: Sendable, Equatable {
        public let id: Int64
        public let role: String
        public let label: String
        /// RFC 3339 UTC.
        public let createdAt: String
        public let revokedAt: String?
    }

    static let utc = "to_char(%@ AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

    /// Every key, oldest first.
    public static func list(on connection: PostgresConnection) throws -> [Listing] {
        let created = utc.replacingOccurrences(of: "%@", with: "created_at")
        let revoked = utc.replacingOccurrences(of: "%@", with: "revoked_at")
        return try connection.execute("SELECT id, role, label, \(created), \(revoked) FROM api_keys ORDER BY id").map { row in
            Listing(
                id: try row.int64(0), role: try row.string(1), label: try row.string(2), createdAt: try row.string(3),
                revokedAt: try row.optionalString(4))
        }
    }

    /// What `revoke` did.
    public enum Revocation: Sendable, Equatable {
        case revoked, alreadyRevoked, notFound
    }

    /// Sets `revoked_at` (once; a second revoke keeps the first time).
    public static func revoke(id: Int64, on connection: PostgresConnection) throws -> Revocation {
        let updated = try connection.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", [id])
        if !updated.isEmpty { return .revoked }
        return try connection.execute("SELECT 1 FROM api_keys WHERE id = $1", [id]).isEmpty ? .notFound : .alreadyRevoked
    }

    /// Every unrevoked key hash with its role (nodes cache them).
    public static func all(on connection: PostgresConnection) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try connection.execute("SELECT key_hash, role FROM api_keys WHERE revoked_at IS NULL") {
            result[try row.string(0)] = try row.string(1)
        }
        return result
    }
}
