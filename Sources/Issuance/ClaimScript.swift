import CouponCore
import RedisClient

/// The claim decision, made atomically by one Lua script (ARCHITECTURE §3): idempotency lookup,
/// campaign state and window, eligibility, per-user limit, stock; then the writes, which
/// cannot fail: decrement, count, append the grant to the stream, remember the request.
/// Time comes from Redis `TIME`; the code comes from the node's CSPRNG.
public enum ClaimScript {
    public static let script = RedisScript(source)

    /// How long a request id is remembered; a retry within this window never grants twice.
    public static let requestTTLMs: Int64 = 24 * 3_600_000
    /// How long a user's recent grants stay listed in Redis: only the wallet's view of grants
    /// not yet flushed needs them, so a day (far beyond any flush lag) bounds their memory.
    public static let recentGrantsTTLMs: Int64 = 24 * 3_600_000

    public static func keys(_ keys: CampaignKeys, userId: String, requestId: String) -> [RedisArgument] {
        [
            .string(keys.meta), .string(keys.stock), .string(keys.users), .string(keys.request(requestId)),
            .string(keys.grants), .string(keys.recentGrants(of: userId)),
            .string(keys.audience),  // audience (issue 12)
        ]
    }

    public static func arguments(userId: String, requestId: String, code: CouponCode, tags: [String]) -> [RedisArgument] {
        [
            .string(userId), .string(requestId), .string(code.value), .int(requestTTLMs),
            .string(tags.joined(separator: ",")), .int(recentGrantsTTLMs),
        ]
    }

    /// The script's source, for scripts that run the same decision per item (bulk jobs, issue 12).
    public static var sourceText: String { source }

    static let source = #"""
        local meta, stock, users, req, grants, recent = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
        local user, rid, code = ARGV[1], ARGV[2], ARGV[3]

        local prior = redis.call('GET', req)
        if prior then
          local sep = string.find(prior, '\n', 1, true)
          if string.sub(prior, 1, sep - 1) ~= user then return {'request_conflict'} end
          return {'replayed', string.sub(prior, sep + 1)}
        end

        local m = redis.call('HMGET', meta, 'state', 'start', 'end', 'limit', 'vtype', 'vfrom', 'vuntil', 'vdays', 'tags', 'aud')
        if not m[1] then return {'unknown_campaign'} end
        local function refuse(reason)
          redis.call('HINCRBY', meta, 'out:' .. reason, 1)
          return {reason}
        end
        if m[1] == 'paused' then return refuse('paused') end
        if m[1] ~= 'active' then return refuse('ended') end

        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if now < tonumber(m[2]) then return refuse('not_started') end
        if now >= tonumber(m[3]) then return refuse('ended') end
        if m[5] == 'fixed' and now > tonumber(m[7]) then return refuse('validity_ended') end

        if m[9] and m[9] ~= '' then
          local have = {}
          for tag in string.gmatch(ARGV[5], '[^,]+') do have[tag] = true end
          local ok = false
          for tag in string.gmatch(m[9], '[^,]+') do if have[tag] then ok = true break end end
          if not ok then return refuse('not_eligible') end
        end
        -- audience (issue 12): a campaign targeted at a segment is claimable only by its members
        if m[10] == '1' and redis.call('SISMEMBER', KEYS[7], user) == 0 then return refuse('not_eligible') end

        local claimed = tonumber(redis.call('HGET', users, user) or '0')
        if claimed >= tonumber(m[4]) then return refuse('limit_reached') end
        if tonumber(redis.call('GET', stock) or '0') <= 0 then return refuse('sold_out') end

        local vf, vu
        if m[5] == 'fixed' then
          vf, vu = tonumber(m[6]), tonumber(m[7])
        else
          vf, vu = now, now + tonumber(m[8]) * 86400000
        end
        local nowText, vfText, vuText = string.format('%.0f', now), string.format('%.0f', vf), string.format('%.0f', vu)

        redis.call('DECR', stock)
        redis.call('HINCRBY', users, user, 1)
        redis.call('HINCRBY', meta, 'issued', 1)
        redis.call('HINCRBY', meta, 'out:granted', 1)
        local id = redis.call('XADD', grants, '*', 'code', code, 'user', user, 'req', rid, 'at', nowText, 'vf', vfText, 'vu', vuText)
        local grant = code .. '|' .. nowText .. '|' .. vfText .. '|' .. vuText .. '|' .. id
        redis.call('SET', req, user .. '\n' .. grant, 'PX', ARGV[4])
        redis.call('RPUSH', recent, grant .. '|' .. rid)
        redis.call('PEXPIRE', recent, ARGV[6])
        return {'granted', grant}
        """#
}
