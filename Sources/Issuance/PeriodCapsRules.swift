/// Period caps (issue 12) in Lua: a self-contained fragment composed into `ClaimRules`, which
/// calls it at four points (context, per-user check, stock check, grant) and once at finish.
/// Every claim path (single, batched, bulk, exchange) runs it, so they all share these rules.
///
/// The script never sees a time zone. The node publishes the campaign's period boundaries
/// (`PeriodSchedule`, computed by `PeriodCalendar`) into the sorted set `cp:{c:ID}:pdays`
/// (score = boundary in epoch ms, member = `day:week:stockDay`); the script takes the latest
/// boundary at or before Redis `TIME`. The counters:
/// - `cp:{c:ID}:pud:<day mod 2>`: user → units of local day `day` (field `#p` = the day). A
///   hash whose `#p` is another day is stale: it is read as empty and replaced at the first
///   grant, so a counter never depends on when a TTL fires (3 days, only to free memory).
/// - `cp:{c:ID}:puw:<week mod 2>`: the same per ISO week (TTL 15 days).
/// - `cp:{c:ID}:pstock`: stock day → units granted (the field of a week ago is deleted).
/// All are declared KEYS (`ClaimScript.keys`), so a migrating slot redirects the whole call.
/// `#` cannot occur in a user id (identifiers are A-Z a-z 0-9 _ - . : @).
public enum PeriodCapsRules {
    public static let lua = #"""
        local function caps_key(ctx, suffix)
          local name = string.sub(ctx.meta, 1, #ctx.meta - 4) .. suffix
          for _, key in ipairs(KEYS) do if key == name then return name end end
          error('caps_keys: the node declared no key ' .. name)
        end

        -- nil when the campaign has no period cap (udl, uwl, dst: its meta fields).
        local function caps_context(ctx, udl, uwl, dst)
          udl, uwl, dst = udl and tonumber(udl), uwl and tonumber(uwl), dst and tonumber(dst)
          if not udl and not uwl and not dst then return nil end
          local hit = redis.call('ZREVRANGEBYSCORE', caps_key(ctx, 'pdays'), ctx.nowText, '-inf', 'LIMIT', 0, 1)[1]
          local day, week, sday = string.match(hit or '', '^(%-?%d+):(%-?%d+):(%-?%d+)$')
          if not day then error('period_schedule: no period boundary published for ' .. ctx.nowText) end
          local caps = {udl = udl, uwl = uwl, dst = dst, day = day, week = week, sday = sday, days = {}, weeks = {}, added = {}, granted = 0}
          if udl then
            caps.dkey = caps_key(ctx, 'pud:' .. (tonumber(day) % 2))
            caps.dfresh = redis.call('HGET', caps.dkey, '#p') ~= day
          end
          if uwl then
            caps.wkey = caps_key(ctx, 'puw:' .. (tonumber(week) % 2))
            caps.wfresh = redis.call('HGET', caps.wkey, '#p') ~= week
          end
          if dst then
            caps.skey = caps_key(ctx, 'pstock')
            caps.sold = tonumber(redis.call('HGET', caps.skey, sday) or '0')
          end
          return caps
        end

        local function caps_count(counts, key, fresh, user)
          local n = counts[user]
          if not n then
            n = fresh and 0 or tonumber(redis.call('HGET', key, user) or '0')
            counts[user] = n
          end
          return n
        end

        -- The user's refusal, or nil.
        local function caps_user(caps, user)
          if not caps then return nil end
          if caps.udl and caps_count(caps.days, caps.dkey, caps.dfresh, user) >= caps.udl then return 'daily_limit_reached' end
          if caps.uwl and caps_count(caps.weeks, caps.wkey, caps.wfresh, user) >= caps.uwl then return 'weekly_limit_reached' end
          return nil
        end

        local function caps_stock(caps)
          if caps and caps.dst and caps.sold >= caps.dst then return 'daily_sold_out' end
          return nil
        end

        local function caps_grant(caps, user)
          if not caps then return end
          if caps.udl then caps.days[user] = caps.days[user] + 1 end
          if caps.uwl then caps.weeks[user] = caps.weeks[user] + 1 end
          if caps.dst then caps.sold = caps.sold + 1 end
          caps.added[user] = (caps.added[user] or 0) + 1
          caps.granted = caps.granted + 1
        end

        local function caps_write(caps, key, fresh, period, ttl)
          if fresh then
            redis.call('UNLINK', key)
            redis.call('HSET', key, '#p', period)
            redis.call('PEXPIRE', key, ttl)
          end
          for user, n in pairs(caps.added) do redis.call('HINCRBY', key, user, n) end
        end

        local function caps_finish(caps)
          if not caps or caps.granted == 0 then return end
          if caps.udl then caps_write(caps, caps.dkey, caps.dfresh, caps.day, 3 * 86400000) end
          if caps.uwl then caps_write(caps, caps.wkey, caps.wfresh, caps.week, 15 * 86400000) end
          if caps.dst then
            redis.call('HINCRBY', caps.skey, caps.sday, caps.granted)
            redis.call('HDEL', caps.skey, string.format('%d', tonumber(caps.sday) - 7))
            redis.call('PEXPIRE', caps.skey, 9 * 86400000)
          end
        end

        """#
}
