import RedisClient

/// Redis keys of one draw: all under `{d:<id>}`, so an attempt touches one slot.
public struct DrawKeys: Sendable, Equatable {
    public let drawId: Int64
    public let tag: String
    public init(drawId: Int64) {
        self.drawId = drawId
        tag = "{d:\(drawId)}"
    }
    /// Hash: state, start, end, limit, weights ("w1,w2,…"), nopw, hash, attempts and outcome counters.
    public var meta: String { "dr:\(tag):meta" }
    /// Hash: tier number → prizes left.
    public var stock: String { "dr:\(tag):stock" }
    /// Hash: user → attempts made.
    public var users: String { "dr:\(tag):users" }
    public func request(_ requestId: String) -> String { "dr:\(tag):req:\(requestId)" }
    /// Sorted set: request id → attempt time, for won attempts whose prize coupon is not yet
    /// granted (`DrawRunner` removes it once granted; `DrawRecovery` grants what is left).
    public var prizes: String { "dr:\(tag):prizes" }
    /// Stream: one entry per attempt, flushed to `draw_attempts`.
    public var attempts: String { "dr:\(tag):attempts" }
    /// Set of draw ids published to this Redis (the points flusher reads their streams).
    public static let registry = "dr:draws"

    public static func drawId(ofAttempts key: String) -> Int64? {
        guard key.hasPrefix("dr:{d:"), key.hasSuffix("}:attempts") else { return nil }
        return Int64(key.dropFirst(6).dropLast(10))
    }
}

/// One attempt of a draw, decided by one script (issue 11): idempotency, state and window,
/// attempt limit, then the tier from the random value the node passes in (`DrawTable`'s rule,
/// the same arithmetic in Lua: integers below 2^53 are exact doubles), the tier's stock, and
/// the record (random, table hash, selected and outcome tier) in the draw's stream.
public enum DrawScript {
    public static let script = RedisScript(source)
    public static let publish = RedisScript(publishSource)

    public static func keys(_ keys: DrawKeys, requestId: String) -> [RedisArgument] {
        [.string(keys.meta), .string(keys.stock), .string(keys.users), .string(keys.request(requestId)), .string(keys.attempts), .string(keys.prizes)]
    }

    public static func arguments(userId: String, requestId: String, random: Int64) -> [RedisArgument] {
        [.string(userId), .string(requestId), .int(random), .int(24 * 3_600_000)]
    }

    static let source = DecisionRecord.lua + #"""
        local meta, stock, users, req, attempts, prizes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
        local user, rid, r = ARGV[1], ARGV[2], tonumber(ARGV[3])
        local replay = decision_replay(req, user)
        if replay then return replay end
        local m = redis.call('HMGET', meta, 'state', 'start', 'end', 'limit', 'weights', 'nopw', 'hash', 'camps')
        if not m[1] then return {'unknown_draw'} end
        -- A refusal is recorded too: a paid attempt refunded for it can never turn into a draw later.
        local function refuse(reason)
          redis.call('SET', req, user .. '\n!' .. reason, 'PX', ARGV[4])
          return {reason}
        end
        if m[1] == 'paused' then return refuse('paused') end
        if m[1] ~= 'active' then return refuse('ended') end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if now < tonumber(m[2]) then return refuse('not_started') end
        if now >= tonumber(m[3]) then return refuse('ended') end
        if tonumber(redis.call('HGET', users, user) or '0') >= tonumber(m[4]) then return refuse('limit_reached') end

        local weights, total = {}, tonumber(m[6])
        for w in string.gmatch(m[5], '[^,]+') do weights[#weights + 1] = tonumber(w); total = total + tonumber(w) end
        local pick = math.fmod(r, total)
        local selected, cumulative = 0, 0
        for i, w in ipairs(weights) do
          cumulative = cumulative + w
          if pick < cumulative then selected = i break end
        end
        local outcome = selected
        if selected > 0 then
          if tonumber(redis.call('HGET', stock, tostring(selected)) or '0') > 0 then
            redis.call('HINCRBY', stock, tostring(selected), -1)
          else
            outcome = 0  -- the tier ran out: its weight goes to no prize
          end
        end
        redis.call('HINCRBY', users, user, 1)
        redis.call('HINCRBY', meta, 'attempts', 1)
        redis.call('HINCRBY', meta, 'won:' .. outcome, 1)
        local nowText = string.format('%.0f', now)
        -- The prize campaign of the tier won (0: none); its coupon is granted after this script.
        local prize = '0'
        if outcome > 0 and m[8] then
          local i = 0
          for c in string.gmatch(m[8], '[^,]+') do
            i = i + 1
            if i == outcome then prize = c end
          end
        end
        if prize ~= '0' then redis.call('ZADD', prizes, nowText, rid) end
        local id = redis.call('XADD', attempts, '*', 'u', user, 'q', rid, 'r', ARGV[3], 'h', m[7], 's', selected, 'o', outcome, 'at', nowText,
          'pc', prize)
        local record = id .. '|' .. ARGV[3] .. '|' .. m[7] .. '|' .. selected .. '|' .. outcome .. '|' .. nowText .. '|' .. prize
        redis.call('SET', req, user .. '\n' .. record, 'PX', ARGV[4])
        return {'drawn', record}
        """#

    /// KEYS meta, stock; ARGV state, start, end, limit, weights, nopw, hash, points cost, prize
    /// campaigns ("c1,c2,…", 0: none), stock1, stock2, …
    /// Idempotent: stock is set only the first time (publishing again never refills a tier).
    static let publishSource = #"""
        local meta, stock = KEYS[1], KEYS[2]
        if not redis.call('HGET', meta, 'hash') then
          for i = 10, #ARGV do redis.call('HSET', stock, tostring(i - 9), ARGV[i]) end
        end
        redis.call('HSET', meta, 'state', ARGV[1], 'start', ARGV[2], 'end', ARGV[3], 'limit', ARGV[4], 'weights', ARGV[5],
          'nopw', ARGV[6], 'hash', ARGV[7], 'pcost', ARGV[8], 'camps', ARGV[9])
        return 1
        """#
}

/// What an attempt's script answered.
public struct DrawAttempt: Sendable, Equatable {
    public let drawId: Int64
    public let userId: String
    public let requestId: String
    /// `<draw id>-<stream id>`: names the attempt in `GET /v1/draws/{attempt_id}`.
    public let attemptId: String
    public let random: Int64
    public let tableHash: String
    public let selectedTier: Int
    public let outcomeTier: Int
    public let atMs: Int64
    /// The campaign the prize coupon is granted from (nil: no prize, or a tier without template).
    public let prizeCampaignId: Int64?

    public init(
        drawId: Int64, userId: String, requestId: String, attemptId: String, random: Int64, tableHash: String, selectedTier: Int, outcomeTier: Int,
        atMs: Int64, prizeCampaignId: Int64? = nil
    ) {
        self.drawId = drawId
        self.userId = userId
        self.requestId = requestId
        self.attemptId = attemptId
        self.random = random
        self.tableHash = tableHash
        self.selectedTier = selectedTier
        self.outcomeTier = outcomeTier
        self.atMs = atMs
        self.prizeCampaignId = prizeCampaignId
    }

    /// The request id of the prize coupon's claim: the coupon is `coupons (campaign_id =
    /// prizeCampaignId, request_id = this)`.
    public static func prizeRequestId(drawId: Int64, requestId: String) -> String { "draw:\(drawId):\(requestId)" }
    public var prizeRequestId: String { Self.prizeRequestId(drawId: drawId, requestId: requestId) }

    /// From the script's record `stream_id|random|hash|selected|outcome|at|prize campaign`.
    public init?(record: String, drawId: Int64, userId: String, requestId: String) {
        let parts = record.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 6 || parts.count == 7, let random = Int64(parts[1]), let selected = Int(parts[3]), let outcome = Int(parts[4]),
            let at = Int64(parts[5])
        else { return nil }
        let prize = parts.count == 7 ? Int64(parts[6]).flatMap { $0 > 0 ? $0 : nil } : nil
        self.init(
            drawId: drawId, userId: userId, requestId: requestId, attemptId: "\(drawId)-\(parts[0])", random: random, tableHash: String(parts[2]),
            selectedTier: selected, outcomeTier: outcome, atMs: at, prizeCampaignId: prize)
    }

    /// From a stream entry's fields.
    public init?(drawId: Int64, streamId: String, fields: [String: String]) {
        guard let user = fields["u"], let rid = fields["q"], let random = fields["r"].flatMap(Int64.init), let hash = fields["h"],
            let selected = fields["s"].flatMap(Int.init), let outcome = fields["o"].flatMap(Int.init), let at = fields["at"].flatMap(Int64.init)
        else { return nil }
        self.init(
            drawId: drawId, userId: user, requestId: rid, attemptId: "\(drawId)-\(streamId)", random: random, tableHash: hash,
            selectedTier: selected, outcomeTier: outcome, atMs: at, prizeCampaignId: fields["pc"].flatMap(Int64.init).flatMap { $0 > 0 ? $0 : nil })
    }

    public enum Decision: Sendable, Equatable {
        case drawn(DrawAttempt)
        case replayed(DrawAttempt)
        case refused(String)
    }

    public static func decision(reply: RESPValue, drawId: Int64, userId: String, requestId: String) -> Decision? {
        guard let items = reply.array, let head = items.first?.string else { return nil }
        switch head {
        case "drawn", "replayed":
            guard items.count == 2, let record = items[1].string,
                let attempt = DrawAttempt(record: record, drawId: drawId, userId: userId, requestId: requestId)
            else { return nil }
            return head == "drawn" ? .drawn(attempt) : .replayed(attempt)
        default: return .refused(head)
        }
    }
}

extension DrawTable {
    /// The publish script's call for a draw with this table.
    /// `prizeCampaigns`: per tier, the campaign its coupons come from (0 or missing: none).
    public func publishCall(
        _ keys: DrawKeys, state: String, startMs: Int64, endMs: Int64, limit: Int64, pointsCost: Int64 = 0, prizeCampaigns: [Int64] = []
    ) -> (keys: [RedisArgument], args: [RedisArgument]) {
        let camps = tiers.indices.map { String($0 < prizeCampaigns.count ? prizeCampaigns[$0] : 0) }.joined(separator: ",")
        var args: [RedisArgument] = [
            .string(state), .int(startMs), .int(endMs), .int(limit), .string(tiers.map { String($0.weight) }.joined(separator: ",")),
            .int(noPrizeWeight), .string(versionHash), .int(pointsCost), .string(camps),
        ]
        args += tiers.map { .int($0.stock) }
        return ([.string(keys.meta), .string(keys.stock)], args)
    }
}
