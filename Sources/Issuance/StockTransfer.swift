import RedisClient

/// Moving stock from one shard of a campaign to another (issue 10 §1, ARCHITECTURE §13). The
/// two shards are two slots, so no script can touch both; the move is three single-slot steps,
/// each safe to repeat or to stop after:
///
/// 1. **debit** (donor slot): take `min(wanted, remaining)` units off the donor's stock, add
///    them to its `xout` counter and record `id → amount|receiver|debited_at` in the donor's
///    `cp:{donor}:xout` hash. Repeating it with the same id returns the recorded amount.
/// 2. **credit** (receiver slot): `HSETNX cp:{receiver}:xin id amount`; only when that field
///    is new, add the units to the receiver's stock and `xin`. Applied once per id, whoever
///    sends it and however often. The `xin` ids are kept for the campaign's lifetime.
/// 3. **complete** (donor slot): `HDEL cp:{donor}:xout id`.
///
/// Between 1 and 3 the units are "in transit" (`Σ xout − Σ xin` over the shards), never
/// sellable twice: a node dying after 1 leaves the record, and the recovery sweep
/// (`StockTransferRecovery`, every node's flusher thread) runs 2 and 3 for every record older
/// than its grace. So at every instant `Σ stock_total = Σ remaining + Σ issued + in transit`.
///
/// This value is the protocol's pure state: the engine (async) and the recovery (blocking)
/// both carry out its steps and feed it the replies.
public struct StockTransfer: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case planned
        case debited(amount: Int64)
        case credited(amount: Int64)
        /// Done: `amount` units moved (0: the donor had nothing left, nothing was recorded).
        case completed(amount: Int64)
        /// A step failed or its reply was lost. After a debit this leaves the record for the
        /// recovery sweep; the units stay in transit until it runs.
        case interrupted(after: Step)
    }

    public enum Step: Sendable, Equatable {
        case debit(donor: Int, wanted: Int64)
        case credit(receiver: Int, amount: Int64)
        case complete(donor: Int)
        case none
    }

    public let id: String
    public let donor: Int
    public let receiver: Int
    public let wanted: Int64
    public private(set) var state: State = .planned

    public init(id: String, donor: Int, receiver: Int, wanted: Int64) {
        precondition(donor != receiver && wanted > 0)
        self.id = id
        self.donor = donor
        self.receiver = receiver
        self.wanted = wanted
    }

    /// A transfer found half-done by the recovery: debited `amount`, credit unknown.
    public static func recovered(id: String, donor: Int, receiver: Int, amount: Int64) -> StockTransfer {
        var transfer = StockTransfer(id: id, donor: donor, receiver: receiver, wanted: max(1, amount))
        transfer.state = .debited(amount: amount)
        return transfer
    }

    /// What to send next.
    public var next: Step {
        switch state {
        case .planned: .debit(donor: donor, wanted: wanted)
        case .debited(let amount): .credit(receiver: receiver, amount: amount)
        case .credited: .complete(donor: donor)
        case .completed, .interrupted: .none
        }
    }

    /// Units moved once completed; nil before.
    public var moved: Int64? { if case .completed(let amount) = state { amount } else { nil } }

    /// Feeds the reply of `next`. Debit: the amount taken (0 = donor empty, nothing recorded).
    /// Credit: whether it was applied now (false = applied before: the same outcome). Complete: any.
    public mutating func succeeded(_ reply: Int64) {
        switch state {
        case .planned: state = reply > 0 ? .debited(amount: reply) : .completed(amount: 0)
        case .debited(let amount): state = .credited(amount: amount)
        case .credited(let amount): state = .completed(amount: amount)
        case .completed, .interrupted: break
        }
    }

    /// The step's command failed or may not have run. Nothing is retried here: a debit that may
    /// have run is completed by the recovery sweep; one that did not run changed nothing.
    public mutating func failed() {
        let step = next
        if step != .none { state = .interrupted(after: step) }
    }

    // MARK: Commands (each touches one shard's slot)

    /// KEYS donor meta, stock, xout; ARGV id, wanted, receiver → amount taken.
    public static let debitScript = RedisScript(#"""
        local known = redis.call('HGET', KEYS[3], ARGV[1])
        if known then return tonumber(string.match(known, '^(%d+)')) end
        local left = tonumber(redis.call('GET', KEYS[2]) or '0')
        if left <= 0 then return 0 end
        local amount = math.min(left, tonumber(ARGV[2]))
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('DECRBY', KEYS[2], amount)
        redis.call('HINCRBY', KEYS[1], '\#(CampaignMeta.transferredOut)', amount)
        redis.call('HSET', KEYS[3], ARGV[1], amount .. '|' .. ARGV[3] .. '|' .. string.format('%.0f', now))
        return amount
        """#)

    /// KEYS receiver meta, stock, xin; ARGV id, amount → 1 applied now, 0 applied before.
    public static let creditScript = RedisScript(#"""
        if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('INCRBY', KEYS[2], ARGV[2])
        redis.call('HINCRBY', KEYS[1], '\#(CampaignMeta.transferredIn)', ARGV[2])
        return 1
        """#)

    /// KEYS donor xout; ARGV grace ms → flat `id, record` of records debited more than grace ago (Redis `TIME`).
    public static let staleScript = RedisScript(#"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local out = {}
        local all = redis.call('HGETALL', KEYS[1])
        for i = 1, #all, 2 do
          local at = tonumber(string.match(all[i + 1], '|(%d+)$') or '0')
          if now - at >= tonumber(ARGV[1]) then out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
        end
        return out
        """#)

    /// The script, keys and arguments of `step` for a campaign with these shard layouts.
    public func command(_ step: Step, shards: [CampaignKeys]) -> (script: RedisScript, keys: [RedisArgument], args: [RedisArgument])? {
        switch step {
        case .debit(let donor, let wanted):
            let keys = shards[donor]
            return (Self.debitScript, [.string(keys.meta), .string(keys.stock), .string(keys.transfersOut)],
                [.string(id), .int(wanted), .int(Int64(receiver))])
        case .credit(let receiver, let amount):
            let keys = shards[receiver]
            return (Self.creditScript, [.string(keys.meta), .string(keys.stock), .string(keys.transfersIn)], [.string(id), .int(amount)])
        case .complete(let donor):
            // A plain HDEL as a one-line script, so all three steps go through `evalScript`.
            return (Self.completeScript, [.string(shards[donor].transfersOut)], [.string(id)])
        case .none:
            return nil
        }
    }

    /// KEYS donor xout; ARGV id.
    public static let completeScript = RedisScript("return redis.call('HDEL', KEYS[1], ARGV[1])")

    /// Parses a donor record `amount|receiver|debited_at`.
    public static func parseRecord(_ record: String) -> (amount: Int64, receiver: Int, atMs: Int64)? {
        let parts = record.split(separator: "|")
        guard parts.count == 3, let amount = Int64(parts[0]), let receiver = Int(parts[1]), let at = Int64(parts[2]) else { return nil }
        return (amount, receiver, at)
    }
}

/// What a shard that ran dry does next, from every shard's remaining stock and open transfers
/// (read just before; a pure decision, tested without sockets).
public enum ShardRebalance: Sendable, Equatable {
    /// Take `amount` from `donor`: half of the richest donor's remaining (rounded up), but no
    /// more than `unitsPerWaitingClaim` per claim waiting on the receiver (at least one
    /// batch's worth), so a shard with little demand does not pull half of a busy shard's
    /// stock only to have it pulled back.
    case transfer(donor: Int, amount: Int64)
    /// No shard has stock but some is in transit: retry the claim shortly.
    case wait
    /// Nothing remains anywhere and nothing is in transit: the campaign is sold out.
    case soldOut

    public static let unitsPerWaitingClaim: Int64 = 64

    public static func plan(receiver: Int, remaining: [Int64], openTransfers: [Int64], waiting: Int = 1) -> ShardRebalance {
        var donor: Int?
        for (shard, left) in remaining.enumerated() where shard != receiver && left > 0 {
            if donor == nil || left > remaining[donor!] { donor = shard }
        }
        if let donor {
            let cap = unitsPerWaitingClaim * Int64(max(1, waiting))
            return .transfer(donor: donor, amount: min((remaining[donor] + 1) / 2, cap))
        }
        if remaining.indices.contains(receiver) && remaining[receiver] > 0 { return .wait }  // stock arrived meanwhile
        return openTransfers.contains { $0 > 0 } ? .wait : .soldOut
    }
}
