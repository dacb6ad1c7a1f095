import RedisClient

/// The points scripts (README "Points"). Each touches one user's account and its bucket's keys
/// (one slot): reads and checks first, then writes that cannot fail; time from Redis `TIME`.
/// Every change of a balance appends one event to the bucket's stream (`PointsEvent` names the
/// fields), so the PostgreSQL ledger sees everything, and a lot whose expiry has passed is
/// expired (with an `expire` event) before any script reads the balance: nothing expires silently
/// and no balance ever includes an expired lot.
public enum PointsScripts {
    /// Earn (positive points) or adjust (either sign), with an idempotency key.
    public static let credit = RedisScript(prelude + creditSource)
    /// Step 1 of an exchange: reserve (spend) the cost, earliest-expiring lots first.
    public static let reserve = RedisScript(prelude + reserveSource)
    /// Step 3 of an exchange: commit the reservation (the coupon was granted) or refund it.
    public static let finish = RedisScript(prelude + finishSource)
    /// The expiry sweep's step for one user.
    public static let expire = RedisScript(prelude + expireSource)
    /// Rebuilds one account from its ledger replay (`PointsRebuild`).
    public static let restore = RedisScript(prelude + restoreSource)
    /// Gives back the points an exchange coupon cost when the coupon is revoked unused, once
    /// per coupon (`PointsRefund`).
    public static let revokeRefund = RedisScript(prelude + revokeRefundSource)

    static let prelude = #"""
        local function S(x) return string.format('%.0f', x) end
        -- The bucket's marker (always the last key) is gone: Redis lost this bucket's data, and no
        -- balance may change until `PointsRebuild` has rebuilt its accounts from PostgreSQL.
        local function lost() return redis.call('EXISTS', KEYS[#KEYS]) == 0 end
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- The account's lots, earliest expiry first: {field, expiry (math.huge: never), points}.
        local function lots(acct)
          local raw = redis.call('HGETALL', acct)
          local out = {}
          for i = 1, #raw, 2 do
            local f = raw[i]
            if string.sub(f, 1, 2) == 'l:' then
              local e = string.sub(f, 3)
              out[#out + 1] = {f, e == 'never' and math.huge or tonumber(e), tonumber(raw[i + 1])}
            end
          end
          table.sort(out, function(a, b) return a[2] < b[2] end)
          return out
        end
        local function event(acct, events, user, kind, pts, at, extra)
          local seq = redis.call('HINCRBY', acct, 'seq', 1)
          local bal = redis.call('HGET', acct, 'bal') or '0'
          local args = {'XADD', events, '*', 'u', user, 's', seq, 'k', kind, 'p', S(pts), 'b', bal, 'at', S(at)}
          for i = 1, #extra do args[#args + 1] = extra[i] end
          redis.call(unpack(args))
          return seq, tonumber(bal)
        end
        local function reindex(acct, due, user)
          for _, l in ipairs(lots(acct)) do
            if l[2] ~= math.huge then redis.call('ZADD', due, S(l[2]), user) return end
          end
          redis.call('ZREM', due, user)
        end
        -- Expires every lot whose expiry has passed, one `expire` event each.
        local function expire_due(acct, events, user, now)
          local n = 0
          for _, l in ipairs(lots(acct)) do
            if l[2] > now then break end
            redis.call('HDEL', acct, l[1])
            redis.call('HINCRBY', acct, 'bal', -l[3])
            event(acct, events, user, 'expire', -l[3], now, {'e', S(l[2])})
            n = n + 1
          end
          return n
        end
        -- Takes `need` points from the lots, earliest expiry first; returns 'expiry:points,…'.
        local function take(acct, need)
          local taken = {}
          for _, l in ipairs(lots(acct)) do
            if need <= 0 then break end
            local t = math.min(need, l[3])
            if t == l[3] then redis.call('HDEL', acct, l[1]) else redis.call('HINCRBY', acct, l[1], -t) end
            need = need - t
            taken[#taken + 1] = string.sub(l[1], 3) .. ':' .. S(t)
          end
          return table.concat(taken, ',')
        end

        """#

    static let creditSource = #"""
        local acct, due, events, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
        if lost() then return {'rebuilding'} end
        local user, hash, pts, expiry, kind = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
        local prior = redis.call('GET', idem)
        if prior then
          local sep = string.find(prior, '\n', 1, true)
          if string.sub(prior, 1, sep - 1) ~= hash then return {'conflict'} end
          return {'replayed', string.sub(prior, sep + 1)}
        end
        local now = now_ms()
        if expiry ~= 'never' and tonumber(expiry) <= now then return {'expired'} end
        local changed = expire_due(acct, events, user, now)
        local extra = {'r', ARGV[6], 'o', ARGV[7], 'i', ARGV[8]}
        if pts >= 0 then
          redis.call('HINCRBY', acct, 'l:' .. expiry, pts)
          redis.call('HINCRBY', acct, 'bal', pts)
          if expiry ~= 'never' then extra[#extra + 1] = 'e'; extra[#extra + 1] = expiry end
        else
          local bal = tonumber(redis.call('HGET', acct, 'bal') or '0')
          if bal < -pts then
            if changed > 0 then reindex(acct, due, user) end
            return {'insufficient_points', S(bal)}
          end
          take(acct, -pts)
          redis.call('HINCRBY', acct, 'bal', pts)
        end
        local seq, bal = event(acct, events, user, kind, pts, now, extra)
        local reply = S(seq) .. '|' .. S(bal) .. '|' .. S(now)
        redis.call('SET', idem, hash .. '\n' .. reply, 'PX', ARGV[9])
        reindex(acct, due, user)
        return {'ok', reply}
        """#

    static let reserveSource = #"""
        local acct, due, events, resv, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        if lost() then return {'rebuilding'} end
        local user, member, cost, minimum = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
        local state = redis.call('HMGET', resv, 'state', 'detail')
        if state[1] then return {'exists', state[1], state[2] or ''} end
        local now = now_ms()
        local changed = expire_due(acct, events, user, now)
        local bal = tonumber(redis.call('HGET', acct, 'bal') or '0')
        local refusal
        if bal < minimum then refusal = 'below_min_balance' elseif bal < cost then refusal = 'insufficient_points' end
        if refusal then
          if changed > 0 then reindex(acct, due, user) end
          return {refusal, S(bal)}
        end
        local taken = take(acct, cost)
        redis.call('HINCRBY', acct, 'bal', -cost)
        local seq, after = event(acct, events, user, 'spend', -cost, now, {'x', ARGV[6], 'c', ARGV[5], 'd', ARGV[8]})
        redis.call('HSET', resv, 'state', 'reserved', 'user', user, 'campaign', ARGV[5], 'request', ARGV[6],
          'tags', ARGV[7], 'cost', S(cost), 'lots', taken, 'at', S(now), 'seq', S(seq), 'draw', ARGV[8])
        redis.call('ZADD', pending, S(now), member)
        reindex(acct, due, user)
        return {'reserved', S(after)}
        """#

    static let finishSource = #"""
        local acct, due, events, resv, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        if lost() then return {'rebuilding'} end
        local member, outcome, detail = ARGV[1], ARGV[2], ARGV[3]
        local r = redis.call('HMGET', resv, 'state', 'user', 'campaign', 'request', 'cost', 'lots', 'detail', 'draw')
        if not r[1] then
          redis.call('ZREM', pending, member)
          return {'missing'}
        end
        if r[1] ~= 'reserved' then return {r[1], r[7] or ''} end
        if outcome == 'commit' then
          redis.call('HSET', resv, 'state', 'committed', 'detail', detail)
        else
          local now = now_ms()
          for item in string.gmatch(r[6], '[^,]+') do
            local e, n = string.match(item, '^(.*):(%d+)$')
            redis.call('HINCRBY', acct, 'l:' .. e, tonumber(n))
          end
          redis.call('HINCRBY', acct, 'bal', tonumber(r[5]))
          event(acct, events, r[2], 'refund', tonumber(r[5]), now, {'x', r[4], 'c', r[3], 'r', detail, 'd', r[8] or ''})
          -- A lot whose expiry passed while it was reserved expires now, with its own event.
          expire_due(acct, events, r[2], now)
          redis.call('HSET', resv, 'state', 'refunded', 'detail', detail)
          reindex(acct, due, r[2])
        end
        redis.call('ZREM', pending, member)
        redis.call('PEXPIRE', resv, ARGV[4])
        return {outcome == 'commit' and 'committed' or 'refunded', detail}
        """#

    static let expireSource = #"""
        local acct, due, events = KEYS[1], KEYS[2], KEYS[3]
        if lost() then return {'rebuilding'} end
        local n = expire_due(acct, events, ARGV[1], now_ms())
        reindex(acct, due, ARGV[1])
        return n
        """#

    /// KEYS account, due, events, the refund's marker, the exchange's reservation.
    /// ARGV user, points, campaign, request, code. The points go back to the lots they were taken
    /// from while the reservation is remembered, else into a lot that never expires; a lot whose
    /// expiry has passed expires at once, with its own event. The marker has no TTL: a coupon is
    /// refunded at most once, however often its revoke is repeated.
    static let revokeRefundSource = #"""
        local acct, due, events, marker, resv = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        if lost() then return {'rebuilding'} end
        local user, pts = ARGV[1], tonumber(ARGV[2])
        local prior = redis.call('GET', marker)
        if prior then return {'replayed', prior} end
        local now = now_ms()
        local r = redis.call('HMGET', resv, 'state', 'lots')
        if r[1] == 'refunded' then return {'refunded_already'} end
        if r[1] and r[2] and r[2] ~= '' then
          for item in string.gmatch(r[2], '[^,]+') do
            local e, n = string.match(item, '^(.*):(%d+)$')
            redis.call('HINCRBY', acct, 'l:' .. e, tonumber(n))
          end
        else
          redis.call('HINCRBY', acct, 'l:never', pts)
        end
        redis.call('HINCRBY', acct, 'bal', pts)
        local seq, bal = event(acct, events, user, 'refund', pts, now, {'x', ARGV[4], 'c', ARGV[3], 'r', 'revoked ' .. ARGV[5]})
        expire_due(acct, events, user, now)
        reindex(acct, due, user)
        local reply = S(seq) .. '|' .. S(bal) .. '|' .. S(now)
        redis.call('SET', marker, reply)
        return {'ok', reply}
        """#

    /// KEYS account, due. ARGV user, last event number, balance, then (expiry ms | never, points)
    /// per lot. Leaves an account that already has this event number or a later one (written
    /// after the loss or by another node's rebuild): idempotent.
    static let restoreSource = #"""
        local acct, due, user = KEYS[1], KEYS[2], ARGV[1]
        if tonumber(redis.call('HGET', acct, 'seq') or '0') >= tonumber(ARGV[2]) then return 0 end
        redis.call('DEL', acct)
        redis.call('HSET', acct, 'bal', ARGV[3], 'seq', ARGV[2])
        for i = 4, #ARGV, 2 do redis.call('HSET', acct, 'l:' .. ARGV[i], ARGV[i + 1]) end
        reindex(acct, due, user)
        return 1
        """#
}
