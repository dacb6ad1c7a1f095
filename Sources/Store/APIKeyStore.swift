import PostgresClient

/// API keys: only the SHA-256 of a key is stored; the key itself is shown once at creation.
public enum APIKeyStore {
    public static func insert(hash: String, role: String, label: String, on connection: PostgresConnection) throws -> Int64 {
        try connection.execute(
            "INSERT INTO api_keys (key_hash, role, label) VALUES ($1, $2, $3) RETURNING id", [hash, role, label]
        ).first!.int64(0)
    }

    /// The role of an unrevoked key with this hash.
    public static func role(forHash hash: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute(
            "SELECT role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", [hash]
        ).first?.string(0)
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
