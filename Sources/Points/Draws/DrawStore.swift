import CouponCore
import PostgresClient
import Store

/// A draw as PostgreSQL keeps it.
public struct Draw: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let startMs: Int64
    public let endMs: Int64
    public let attemptLimit: Int64
    public let table: DrawTable

    public init(id: Int64, name: String, startMs: Int64, endMs: Int64, attemptLimit: Int64, table: DrawTable) {
        self.id = id
        self.name = name
        self.startMs = startMs
        self.endMs = endMs
        self.attemptLimit = attemptLimit
        self.table = table
    }
}

public enum DrawStore {
    public static func create(name: String, startMs: Int64, endMs: Int64, attemptLimit: Int64, table: DrawTable, on connection: PostgresConnection) throws -> Draw {
        var writer = JSONWriter()
        writer.write(table.json)
        let id = try connection.execute(
            """
            INSERT INTO draws (name, claim_start, claim_end, attempt_limit, prize_table, table_hash)
            VALUES ($1, timestamptz 'epoch' + $2 * interval '1 millisecond', timestamptz 'epoch' + $3 * interval '1 millisecond', $4, $5, $6)
            RETURNING id
            """, [name, startMs, endMs, attemptLimit, String(decoding: writer.bytes, as: UTF8.self), table.versionHash]
        ).first!.int64(0)
        return Draw(id: id, name: name, startMs: startMs, endMs: endMs, attemptLimit: attemptLimit, table: table)
    }

    public static func draw(id: Int64, on connection: PostgresConnection) throws -> Draw? {
        guard let row = try connection.execute(
            """
            SELECT name, (extract(epoch FROM claim_start) * 1000)::bigint, (extract(epoch FROM claim_end) * 1000)::bigint, attempt_limit, prize_table
            FROM draws WHERE id = $1
            """, [id]).first
        else { return nil }
        let table = try DrawTable(json: try JSONParser.parse(try row.string(4)))
        return Draw(id: id, name: try row.string(0), startMs: try row.int64(1), endMs: try row.int64(2), attemptLimit: try row.int64(3), table: table)
    }

    public static func write(_ attempts: [DrawAttempt], on connection: PostgresConnection) throws {
        guard !attempts.isEmpty else { return }
        _ = try connection.execute(
            """
            INSERT INTO draw_attempts (attempt_id, draw_id, user_id, request_id, random, table_hash, selected_tier, outcome_tier, at)
            SELECT a, d, u, q, r, h, s, o, timestamptz 'epoch' + t * interval '1 millisecond'
            FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::int[], $9::bigint[])
                AS x(a, d, u, q, r, h, s, o, t)
            ON CONFLICT (attempt_id) DO NOTHING
            """,
            [
                PostgresArrayLiteral.text(attempts.map(\.attemptId)), PostgresArrayLiteral.integers(attempts.map(\.drawId)),
                PostgresArrayLiteral.text(attempts.map(\.userId)), PostgresArrayLiteral.text(attempts.map(\.requestId)),
                PostgresArrayLiteral.integers(attempts.map(\.random)), PostgresArrayLiteral.text(attempts.map(\.tableHash)),
                PostgresArrayLiteral.integers(attempts.map { Int64($0.selectedTier) }), PostgresArrayLiteral.integers(attempts.map { Int64($0.outcomeTier) }),
                PostgresArrayLiteral.integers(attempts.map(\.atMs)),
            ])
    }

    public static func attempt(_ attemptId: String, on connection: PostgresConnection) throws -> DrawAttempt? {
        guard let row = try connection.execute(
            """
            SELECT draw_id, user_id, request_id, random, table_hash, selected_tier, outcome_tier, (extract(epoch FROM at) * 1000)::bigint
            FROM draw_attempts WHERE attempt_id = $1
            """, [attemptId]).first
        else { return nil }
        return DrawAttempt(
            drawId: try row.int64(0), userId: try row.string(1), requestId: try row.string(2), attemptId: attemptId, random: try row.int64(3),
            tableHash: try row.string(4), selectedTier: try row.int(5), outcomeTier: try row.int(6), atMs: try row.int64(7))
    }
}
