import PostgresClient

/// A stored `Idempotency-Key`: which resource the first request with this key created, and
/// the hash of that request's body.
public struct IdempotencyRecord: Sendable, Equatable {
    public let bodySHA256: String
    public let resourceId: Int64
}

/// What a create route does with a key (see `IdempotencyStore.create`).
public enum IdempotentCreation<Value>: Sendable where Value: Sendable {
    /// No earlier request used the key: the resource was created and the key recorded with it.
    case created(Value)
    /// An earlier request with the same body created this resource.
    case existing(resourceId: Int64)
    /// An earlier request used the key with another body.
    case conflict
}

/// `idempotency_keys` (migration V4), keyed by (route, key).
public enum IdempotencyStore {
    public static func find(route: String, key: String, on connection: PostgresConnection) throws -> IdempotencyRecord? {
        try connection.execute(
            "SELECT body_sha256, resource_id FROM idempotency_keys WHERE route = $1 AND key = $2", [route, key]
        ).first.map { IdempotencyRecord(bodySHA256: try $0.string(0), resourceId: try $0.int64(1)) }
    }

    /// Creates the resource and records the key in one transaction, unless the key is known.
    /// Two concurrent requests with one key: the second one's INSERT waits for the first's
    /// COMMIT, finds the key taken, rolls its own resource back and answers the first one's.
    public static func create<Value: Sendable>(
        route: String, key: String, bodySHA256: String, on connection: PostgresConnection,
        _ body: (PostgresConnection) throws -> (value: Value, resourceId: Int64)
    ) throws -> IdempotentCreation<Value> {
        for _ in 0..<2 {
            do {
                return try connection.transaction { connection in
                if let record = try find(route: route, key: key, on: connection) {
                    return record.bodySHA256 == bodySHA256 ? .existing(resourceId: record.resourceId) : .conflict
                }
                let created = try body(connection)
                let recorded = try connection.execute(
                    """
                    INSERT INTO idempotency_keys (route, key, body_sha256, resource_id) VALUES ($1, $2, $3, $4)
                    ON CONFLICT DO NOTHING RETURNING resource_id
                    """, [route, key, bodySHA256, created.resourceId])
                guard !recorded.isEmpty else { throw KeyTaken() }
                return .created(created.value)
                }
            } catch is KeyTaken {
                continue  // rolled back; the next round finds the key
            }
        }
        throw PostgresError(.queryFailed, "idempotency key \(key) kept changing")
    }

    private struct KeyTaken: Error {}

    /// The same for a request whose body is hashed while `body` reads it (a streamed upload):
    /// the resource is created first; when the key turns out to be known, that creation is
    /// rolled back and the recorded resource (same body) or `.conflict` is answered.
    public static func createHashingBody<Value: Sendable>(
        route: String, key: String, on connection: PostgresConnection,
        _ body: (PostgresConnection) throws -> (value: Value, resourceId: Int64, bodySHA256: String)
    ) throws -> IdempotentCreation<Value> {
        do {
            return try connection.transaction { connection in
                let created = try body(connection)
                let recorded = try connection.execute(
                    """
                    INSERT INTO idempotency_keys (route, key, body_sha256, resource_id) VALUES ($1, $2, $3, $4)
                    ON CONFLICT DO NOTHING RETURNING resource_id
                    """, [route, key, created.bodySHA256, created.resourceId])
                if !recorded.isEmpty { return .created(created.value) }
                guard let record = try find(route: route, key: key, on: connection) else {
                    throw PostgresError(.queryFailed, "idempotency key \(key) vanished")
                }
                throw Replayed(resourceId: record.bodySHA256 == created.bodySHA256 ? record.resourceId : nil)
            }
        } catch let replayed as Replayed {
            return replayed.resourceId.map { .existing(resourceId: $0) } ?? .conflict
        }
    }

    /// Rolls back a creation whose key was known: nil resource means another body (conflict).
    private struct Replayed: Error { let resourceId: Int64? }
}
