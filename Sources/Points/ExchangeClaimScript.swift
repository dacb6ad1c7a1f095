import CouponCore
import Issuance
import RedisClient

/// Step 2 of an exchange: the claim on the campaign's slot (ARCHITECTURE §3 rules), with one
/// difference from `ClaimScript`: every decision is recorded under the request id, refusals
/// included (`<user>\n!<reason>`). Run again — by the node that started the exchange or by the
/// recovery sweep — it replays that decision, so whoever finishes the exchange (commit or refund)
/// decides from the same answer; a refusal can never turn into a grant after its refund (stock
/// added, window opened, campaign resumed). Plain claims of an exchange campaign are refused
/// by `ClaimScript` (`points_required`); this script is the only way to its coupons.
/// When the shared claim function lands (engine branch), this script should call it instead of
/// repeating its checks.
public enum ExchangeClaimScript {
    public static let script = RedisScript(source)

    public static func arguments(userId: String, requestId: String, code: CouponCode, tags: [String]) -> [RedisArgument] {
        [.string(userId), .string(requestId), .string(code.value), .int(ClaimScript.requestTTLMs), .string(tags.joined(separator: ","))]
    }

    /// The exchange's decision record lives in its own key under the campaign's tag (plain claims
    /// keep theirs in the request buckets; an exchange also records refusals).
    public static func keys(_ keys: CampaignKeys, userId: String, requestId: String) -> [RedisArgument] {
        [.string(keys.meta), .string(keys.stock), .string(keys.users), .string(decisionKey(keys, requestId: requestId)), .string(keys.grants)]
    }

    public static func decisionKey(_ keys: CampaignKeys, requestId: String) -> String { "cp:\(keys.tag):xq:\(requestId)" }

    static let source = #"""
        local meta, stock, users, req, grants = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        local user, rid, code = ARGV[1], ARGV[2], ARGV[3]

        local prior = redis.call('GET', req)
        if prior then
          local sep = string.find(prior, '\n', 1, true)
          if string.sub(prior, 1, sep - 1) ~= user then return {'request_conflict'} end
          local rest = string.sub(prior, sep + 1)
          if string.sub(rest, 1, 1) == '!' then return {string.sub(rest, 2)} end
          return {'replayed', rest}
        end
        local function record(reason)
          redis.call('SET', req, user .. '\n!' .. reason, 'PX', ARGV[4])
          return {reason}
        end

        local m = redis.call('HMGET', meta, 'state', 'start', 'end', 'limit', 'vtype', 'vfrom', 'vuntil', 'vdays', 'tags')
        if not m[1] then return record('unknown_campaign') end
        local function refuse(reason)
          redis.call('HINCRBY', meta, 'out:' .. reason, 1)
          return record(reason)
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
        return {'granted', grant}
        """#
}
