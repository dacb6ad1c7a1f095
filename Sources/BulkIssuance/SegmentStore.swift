import CouponCore
import Foundation
import Issuance
import PostgresClient
import RedisClient
import Store

/// Segments in PostgreSQL, and the audience sets published from them to Redis.
public enum SegmentStore {
    static let columns = "id, name, kind, rule::text, size, version, (extract(epoch FROM refreshed_at) * 1000)::bigint"

    static func segment(_ row: PostgresRow) throws -> Segment {
        let rule = try row.optionalString(3).flatMap { text -> SegmentRule? in
            guard let json = try? JSONParser.parse(Array(text.utf8)) else { return nil }
            return try? SegmentRule(json: json)
        }
        return Segment(
            id: try row.int64(0), name: try row.string(1), kind: Segment.Kind(rawValue: try row.string(2)) ?? .uploaded, rule: rule,
            size: try row.int64(4), version: try row.int64(5), refreshedAtMs: try row.int64(6))
    }

    public static func find(id: Int64, on connection: PostgresConnection) throws -> Segment? {
        try connection.execute("SELECT \(columns) FROM segments WHERE id = $1", [id]).first.map(segment)
    }

    /// An uploaded segment from the user ids `lines` hands to its sink (duplicates count once).
    public static func createUploaded(
        name: String, maxMembers: Int64, on connection: PostgresConnection, lines: (_ sink: (String) throws -> Void) throws -> Void
    ) throws -> Segment {
        try connection.transaction { connection in
            let id = try connection.execute("INSERT INTO segments (name, kind) VALUES ($1, 'uploaded') RETURNING id", [name]).first!.int64(0)
            _ = try connection.execute("CREATE TEMP TABLE segment_upload (user_id text) ON COMMIT DROP")
            var count: Int64 = 0
            var buffer: [[String?]] = []
            try lines { userId in
                count += 1
                guard count <= maxMembers else { throw BulkJobStore.Failure.tooManyLines(maxMembers) }
                buffer.append([userId])
                if buffer.count == 20_000 {
                    _ = try connection.copyIn("COPY segment_upload (user_id) FROM STDIN", rows: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            if !buffer.isEmpty { _ = try connection.copyIn("COPY segment_upload (user_id) FROM STDIN", rows: buffer) }
            guard count > 0 else { throw BulkJobStore.Failure.emptyUpload }
            _ = try connection.execute(
                "INSERT INTO segment_members (segment_id, user_id) SELECT $1, user_id FROM segment_upload ON CONFLICT DO NOTHING", [id])
            _ = try connection.execute("UPDATE segments SET size = (SELECT count(*) FROM segment_members WHERE segment_id = $1) WHERE id = $1", [id])
            return try find(id: id, on: connection)!
        }
    }

    /// A rule segment, computed now.
    public static func createRule(name: String, rule: SegmentRule, on connection: PostgresConnection) throws -> Segment {
        try connection.transaction { connection in
            let id = try connection.execute(
                "INSERT INTO segments (name, kind, rule) VALUES ($1, 'rule', $2::jsonb) RETURNING id", [name, rule.json.jsonText]
            ).first!.int64(0)
            try compute(id: id, rule: rule, on: connection)
            return try find(id: id, on: connection)!
        }
    }

    /// Recomputes a rule segment (an uploaded one stays as uploaded); nil when unknown.
    public static func refresh(id: Int64, on connection: PostgresConnection) throws -> Segment? {
        try connection.transaction { connection in
            guard let segment = try connection.execute("SELECT \(columns) FROM segments WHERE id = $1 FOR UPDATE", [id]).first.map(segment)
            else { return nil }
            if let rule = segment.rule {
                _ = try connection.execute("DELETE FROM segment_members WHERE segment_id = $1", [id])
                try compute(id: id, rule: rule, on: connection)
                _ = try connection.execute("UPDATE segments SET version = version + 1, refreshed_at = now() WHERE id = $1", [id])
            }
            return try find(id: id, on: connection)
        }
    }

    static func compute(id: Int64, rule: SegmentRule, on connection: PostgresConnection) throws {
        let (sql, binds) = rule.membersQuery
        let inserted = try connection.execute(
            "INSERT INTO segment_members (segment_id, user_id) SELECT $1, user_id FROM (\(sql)) AS members", [id] + binds
        ).rowsAffected
        _ = try connection.execute("UPDATE segments SET size = $2 WHERE id = $1", [id, Int64(inserted)])
    }

    /// Every member, `chunk` at a time in user-id order.
    public static func forEachMember(
        segmentId: Int64, chunk: Int = 50_000, on connection: PostgresConnection, _ body: ([String]) throws -> Void
    ) throws {
        var after = ""
        while true {
            let rows = try connection.execute(
                "SELECT user_id FROM segment_members WHERE segment_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
                [segmentId, after, Int64(chunk)]
            ).rows.map { try $0.string(0) }
            if rows.isEmpty { return }
            try body(rows)
            after = rows.last!
            if rows.count < chunk { return }
        }
    }

    /// Sets (or with nil removes) the audience of a campaign, then publishes it to Redis.
    /// Records a new campaign's audience (in the creating transaction; published with the campaign).
    public static func saveAudience(campaignId: Int64, segmentId: Int64, on connection: PostgresConnection) throws {
        _ = try connection.execute("INSERT INTO campaign_audiences (campaign_id, segment_id) VALUES ($1, $2)", [campaignId, segmentId])
    }

    public static func setAudience(campaignId: Int64, segmentId: Int64?, postgres: PostgresConnection, redis: BlockingRedisConnection) throws {
        if let segmentId {
            _ = try postgres.execute(
                "INSERT INTO campaign_audiences (campaign_id, segment_id) VALUES ($1, $2) ON CONFLICT (campaign_id) DO UPDATE SET segment_id = $2",
                [campaignId, segmentId])
        } else {
            _ = try postgres.execute("DELETE FROM campaign_audiences WHERE campaign_id = $1", [campaignId])
        }
        try publishAudience(campaignId: campaignId, segmentId: segmentId, postgres: postgres, redis: redis)
    }

    /// The audience segment of a campaign, if any.
    public static func audience(campaignId: Int64, on connection: PostgresConnection) throws -> Int64? {
        try connection.execute("SELECT segment_id FROM campaign_audiences WHERE campaign_id = $1", [campaignId]).first.map { try $0.int64(0) }
    }

    /// Copies the segment's members into a fresh set and swaps it in with `RENAME` (a claim
    /// sees the old set or the new one, never a half-filled one), then marks the campaign's
    /// meta `aud` = 1 (nil: `aud` = 0 and the set is deleted). Meta field `audv` records the
    /// segment version published, so `syncAudiences` republishes only what changed or was lost.
    public static func publishAudience(campaignId: Int64, segmentId: Int64?, postgres: PostgresConnection, redis: BlockingRedisConnection) throws {
        let keys = CampaignKeys(campaignId: campaignId)
        guard let segmentId, let segment = try find(id: segmentId, on: postgres) else {
            for result in try redis.pipeline([["HSET", .string(keys.meta), "aud", "0", "audv", ""], ["DEL", .string(keys.audience)]]) {
                _ = try result.get()
            }
            return
        }
        let staging = RedisArgument.string(keys.audience + ":new")
        _ = try redis.command(["DEL", staging])
        try forEachMember(segmentId: segmentId, on: postgres) { members in
            for start in stride(from: 0, to: members.count, by: 5_000) {
                let slice = members[start..<min(start + 5_000, members.count)]
                _ = try redis.command(["SADD", staging] + slice.map { .string($0) })
            }
        }
        var commands: [[RedisArgument]] = []
        // An empty segment has no set to rename: the campaign is then claimable by nobody.
        commands.append(segment.size > 0 ? ["RENAME", staging, .string(keys.audience)] : ["DEL", .string(keys.audience)])
        commands.append(["HSET", .string(keys.meta), "aud", "1", "audv", .string("\(segmentId):\(segment.version)")])
        for result in try redis.pipeline(commands) { _ = try result.get() }
    }

    /// Republishes every audience whose published version (`audv`) differs from its segment's:
    /// after a refresh, or after Redis lost the data. Cheap when nothing changed: one HGET each.
    @discardableResult
    public static func syncAudiences(postgres: PostgresConnection, redis: BlockingRedisConnection) throws -> Int {
        let rows = try postgres.execute(
            "SELECT a.campaign_id, a.segment_id, s.version FROM campaign_audiences a JOIN segments s ON s.id = a.segment_id"
        ).rows
        var published = 0
        for row in rows {
            let (campaign, segment, version) = (try row.int64(0), try row.int64(1), try row.int64(2))
            let current = try redis.command(["HGET", .string(CampaignKeys(campaignId: campaign).meta), "audv"]).string
            guard current != "\(segment):\(version)" else { continue }
            try publishAudience(campaignId: campaign, segmentId: segment, postgres: postgres, redis: redis)
            published += 1
        }
        return published
    }
}
