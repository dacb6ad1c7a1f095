/// The claim decision in Lua, written once (ARCHITECTURE §3) and composed into both the
/// single-claim script (`ClaimScript`) and the batched one (`ClaimBatchScript`), so a rule added
/// here holds for both. `claim_context` reads what every claim of one call shares (meta, time,
/// stock, the request buckets); `claim` decides one claim in order, keeping its writes in the
/// context so later claims of the same call see them; `claim_finish` applies the counter writes,
/// which cannot fail (a caller that read every request record and user count of its call ahead
/// sets `ctx.prefetched`: `claim` then asks Redis for neither, `claim_finish` writes the counts in
/// one `HSET`). Within one script call the claims run atomically, so deciding them one
/// after another against the context is exactly deciding them as separate single-claim calls.
///
/// Request records (idempotency) live in per-window hashes `cp:{c:ID}:rq:<window number>`, field
/// = request id, value = `user\ncode|at|valid_from - at|valid_until - at|stream_id`,
/// window = `ClaimScript.requestTTLMs`, expiring whole at the end of the *next* window: a record
/// is kept between one and two windows, and a lookup reads the current and previous hash.
/// The bucket is chosen from Redis `TIME`, never from a node's clock; the node declares the
/// candidates (`ClaimScript.keys`: windows n-2…n+1 of its own clock) so they are KEYS.
public enum ClaimRules {
    public static let lua = PeriodCapsRules.lua + #"""
        local function fmt(n) return string.format('%.0f', n) end

        -- A request record keeps validity as offsets from the grant time (shorter: fewer bytes per
        -- claim for the whole window); the reply carries absolute times.
        local function expand_record(record)
          local code, at, dvf, dvu, id = string.match(record, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
          local t = tonumber(at)
          return code .. '|' .. at .. '|' .. fmt(t + tonumber(dvf)) .. '|' .. fmt(t + tonumber(dvu)) .. '|' .. id
        end

        -- The request buckets are declared keys (the node passes windows n-2..n+1 of its clock), so
        -- on a cluster a migrating slot redirects the whole call before it runs; the script picks
        -- the two of Redis' own window from them.
        local function request_bucket(buckets, number)
          local name = string.sub(buckets[1], 1, string.find(buckets[1], ':rq:', 1, true) + 3) .. fmt(number)
          for _, key in ipairs(buckets) do if key == name then return key end end
          error('clock_skew: the node passed no request bucket for window ' .. fmt(number))
        end

        local function claim_context(meta, stock, users, grants, buckets, window, audience)
          local m = redis.call('HMGET', meta, '\#(CampaignMeta.state)', '\#(CampaignMeta.start)', '\#(CampaignMeta.end)',
            '\#(CampaignMeta.limit)', '\#(CampaignMeta.validityType)', '\#(CampaignMeta.validFrom)', '\#(CampaignMeta.validUntil)',
            '\#(CampaignMeta.validDays)', '\#(CampaignMeta.tags)', '\#(CampaignMeta.pointsCost)', '\#(CampaignMeta.audience)',
            '\#(CampaignMeta.userDailyLimit)', '\#(CampaignMeta.userWeeklyLimit)', '\#(CampaignMeta.dailyStock)')
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          local number = math.floor(now / window)
          local bucket, previous = request_bucket(buckets, number), request_bucket(buckets, number - 1)
          local ctx = {
            meta = meta, stock = stock, users = users, grants = grants, audience = audience, m = m, now = now, nowText = fmt(now),
            bucket = bucket, previous = previous, expires = fmt((number + 2) * window),
            counts = {}, claimed = {}, added = {}, written = {}, records = {}, granted = 0, replays = 0, left = nil,
          }
          if m[9] and m[9] ~= '' then
            ctx.required = {}
            for tag in string.gmatch(m[9], '[^,]+') do ctx.required[tag] = true end
          end
          ctx.caps = caps_context(ctx, m[12], m[13], m[14])  -- period caps (PeriodCapsRules)
          return ctx
        end

        local function refuse(ctx, reason)
          ctx.counts[reason] = (ctx.counts[reason] or 0) + 1
          return {reason}
        end

        local function claim(ctx, user, rid, code, tags, channel)
          -- ctx.prefetched: the caller read every request record of the call ahead (a bulk batch, one HMGET per bucket).
          local prior = ctx.written[rid]
          if not prior and not ctx.prefetched then prior = redis.call('HGET', ctx.bucket, rid) or redis.call('HGET', ctx.previous, rid) end
          if prior then
            local sep = string.find(prior, '\n', 1, true)
            if string.sub(prior, 1, sep - 1) ~= user then return {'request_conflict'} end
            ctx.replays = ctx.replays + 1
            return {'replayed', expand_record(string.sub(prior, sep + 1))}
          end

          local m, now = ctx.m, ctx.now
          if not m[1] then return {'unknown_campaign'} end
          if m[10] and not ctx.exchange then return {'points_required'} end  -- an exchange campaign: only the exchange script grants (issue 11)
          if m[1] == 'paused' then return refuse(ctx, 'paused') end
          if m[1] ~= 'active' then return refuse(ctx, 'ended') end
          if now < tonumber(m[2]) then return refuse(ctx, 'not_started') end
          if now >= tonumber(m[3]) then return refuse(ctx, 'ended') end
          if m[5] == 'fixed' and now > tonumber(m[7]) then return refuse(ctx, 'validity_ended') end

          if ctx.required then
            local ok = false
            for tag in string.gmatch(tags, '[^,]+') do if ctx.required[tag] then ok = true break end end
            if not ok then return refuse(ctx, 'not_eligible') end
          end
          -- A campaign targeted at a segment (issue 12): only members of its audience set may claim.
          if m[11] == '1' and redis.call('SISMEMBER', ctx.audience, user) == 0 then return refuse(ctx, 'not_eligible') end

          local claimed = ctx.claimed[user]
          if not claimed then
            claimed = tonumber(redis.call('HGET', ctx.users, user) or '0')
            ctx.claimed[user] = claimed
          end
          if claimed >= tonumber(m[4]) then return refuse(ctx, 'limit_reached') end
          local capped = caps_user(ctx.caps, user)
          if capped then return refuse(ctx, capped) end
          if not ctx.left then ctx.left = tonumber(redis.call('GET', ctx.stock) or '0') end
          if ctx.left <= 0 then return refuse(ctx, 'sold_out') end
          capped = caps_stock(ctx.caps)
          if capped then return refuse(ctx, capped) end

          local vf, vu
          if m[5] == 'fixed' then
            vf, vu = tonumber(m[6]), tonumber(m[7])
          else
            vf, vu = now, now + tonumber(m[8]) * 86400000
          end
          local texts = ctx.texts  -- vf and vu depend only on meta and now: the same for every claim of the call
          if not texts then
            texts = {fmt(vf), fmt(vu), fmt(vf - now), fmt(vu - now)}
            ctx.texts = texts
          end
          local nowText, vfText, vuText = ctx.nowText, texts[1], texts[2]

          ctx.left = ctx.left - 1
          ctx.claimed[user] = claimed + 1
          ctx.added[user] = (ctx.added[user] or 0) + 1
          ctx.granted = ctx.granted + 1
          caps_grant(ctx.caps, user)
          local id
          if channel and channel ~= '' then  -- the claim's channel (issue 12), only when it named one
            id = redis.call('XADD', ctx.grants, '*', \#(GrantStreamEntry.luaFields(code: "code", user: "user", request: "rid", at: "nowText", validFrom: "vfText", validUntil: "vuText")), '\#(GrantStreamEntry.channel)', channel)
          else
            id = redis.call('XADD', ctx.grants, '*', \#(GrantStreamEntry.luaFields(code: "code", user: "user", request: "rid", at: "nowText", validFrom: "vfText", validUntil: "vuText")))
          end
          local grant = code .. '|' .. nowText .. '|' .. vfText .. '|' .. vuText .. '|' .. id
          local record = user .. '\n' .. code .. '|' .. nowText .. '|' .. texts[3] .. '|' .. texts[4] .. '|' .. id
          ctx.written[rid] = record
          ctx.records[#ctx.records + 1] = rid
          ctx.records[#ctx.records + 1] = record
          return {'granted', grant}
        end

        local function claim_finish(ctx)
          if ctx.granted > 0 then
            redis.call('DECRBY', ctx.stock, ctx.granted)
            redis.call('HINCRBY', ctx.meta, '\#(CampaignMeta.issued)', ctx.granted)
            ctx.counts['granted'] = ctx.granted
            if ctx.prefetched then  -- counts are absolute in ctx.claimed (each was read before it grew): one HSET
              local fields = {}
              for user in pairs(ctx.added) do fields[#fields + 1] = user; fields[#fields + 1] = ctx.claimed[user] end
              redis.call('HSET', ctx.users, unpack(fields))
            else
              for user, n in pairs(ctx.added) do redis.call('HINCRBY', ctx.users, user, n) end
            end
            redis.call('HSET', ctx.bucket, unpack(ctx.records))
            if redis.call('PTTL', ctx.bucket) < 0 then redis.call('PEXPIREAT', ctx.bucket, ctx.expires) end
            caps_finish(ctx.caps)
          end
          for outcome, n in pairs(ctx.counts) do redis.call('HINCRBY', ctx.meta, 'out:' .. outcome, n) end
          -- Replays are counted so the call writes: a WAIT after it then covers the master's offset
          -- now, which includes the original grant (--redis-wait-replicas, issue 10 §2). pcall: a
          -- full Redis (OOM) refuses the write and the replay is still answered.
          if ctx.replays > 0 then redis.pcall('HINCRBY', ctx.meta, 'out:replayed', ctx.replays) end
        end
        """#
}
