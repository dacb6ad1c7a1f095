import Issuance
import RedisClient

/// Grant → PostgreSQL lag as the console charts it: after each commit the flusher records, per
/// campaign, the largest lag of the grants it just committed into that second of the campaign's
/// per-minute series hash (`CampaignKeys.series`), so every node draws the same history.
/// Telemetry: a failed write is dropped, never a reason to fail a flush.
public enum CommitLag {
    public static let field = "lag_ms"

    /// KEYS: the minute's hash; ARGV: `<second>:lag_ms`, lag, ttl. Keeps the larger value.
    static let script = RedisScript(
        """
        local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if tonumber(ARGV[2]) > v then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        return 1
        """)

    /// The largest lag per campaign among `grants`, committed at `nowMs`.
    public static func largest(_ grants: [Grant], nowMs: Int64) -> [Int64: Int64] {
        var result: [Int64: Int64] = [:]
        for grant in grants { result[grant.campaignId] = max(result[grant.campaignId] ?? 0, max(0, nowMs - grant.issuedAtMs)) }
        return result
    }

    static func record(_ grants: [Grant], nowMs: Int64, on redis: BlockingRedisConnection) {
        let second = nowMs / 1000
        for (campaignId, lag) in largest(grants, nowMs: nowMs) {
            _ = try? redis.evalScript(
                script, keys: [.string(CampaignKeys(campaignId: campaignId).series(minute: second / 60))],
                args: [.string("\(second):\(field)"), .int(lag), .int(Int64(CampaignKeys.seriesTTLSeconds))])
        }
    }
}
