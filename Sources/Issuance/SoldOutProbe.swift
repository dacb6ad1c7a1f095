import Foundation
import RedisClient

/// A read-only check a node runs instead of the claim script while it has marked a campaign
/// sold out: it answers `sold_out` only when the claim script would have (request id unseen,
/// campaign active and in its window, user under the limit, stock at zero), and otherwise
/// `script`, telling the node to run the claim script. It writes nothing, so it adds no AOF write;
/// the engine counts the refusal in `out:sold_out` itself.
public enum SoldOutProbe {
    public static let script = RedisScript(source)

    public static func keys(_ keys: CampaignKeys, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> [RedisArgument] {
        [.string(keys.meta), .string(keys.stock), .string(keys.users)] + ClaimScript.requestBuckets(keys, nowMs: nowMs)
    }

    public static func arguments(userId: String, requestId: String) -> [RedisArgument] {
        [.string(userId), .string(requestId), .int(ClaimScript.requestTTLMs)]
    }

    /// True when the probe's reply means "sold out, answered by the node".
    public static func isSoldOut(_ reply: RESPValue) -> Bool { reply.string == "sold_out" }

    static let source = #"""
        local meta, stock, users = KEYS[1], KEYS[2], KEYS[3]
        local m = redis.call('HMGET', meta, '\#(CampaignMeta.state)', '\#(CampaignMeta.start)', '\#(CampaignMeta.end)', '\#(CampaignMeta.limit)', '\#(CampaignMeta.tags)', '\#(CampaignMeta.audience)')
        if m[1] ~= 'active' then return 'script' end
        if m[5] and m[5] ~= '' then return 'script' end
        if m[6] == '1' then return 'script' end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local number = math.floor(now / tonumber(ARGV[3]))
        -- The request buckets of Redis' window and the one before, among the declared KEYS[4..7].
        for _, key in ipairs({KEYS[4], KEYS[5], KEYS[6], KEYS[7]}) do
          local n = tonumber(string.match(key, ':rq:(%-?%d+)$'))
          if (n == number or n == number - 1) and redis.call('HEXISTS', key, ARGV[2]) == 1 then return 'script' end
        end
        if now < tonumber(m[2]) or now >= tonumber(m[3]) then return 'script' end
        local claimed = tonumber(redis.call('HGET', users, ARGV[1]) or '0')
        if claimed >= tonumber(m[4]) then return 'script' end
        if tonumber(redis.call('GET', stock) or '0') > 0 then return 'script' end
        return 'sold_out'
        """#
}
