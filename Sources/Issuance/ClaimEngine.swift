import CouponCore
import EventLoop
import RedisClient

/// The issuance engine of one event loop: takes a claim request, returns its `ClaimDecision`.
/// It owns everything between "a valid claim arrived" and "this is the answer": the node-local
/// sold-out mark and its read-only probe, coupon codes, batching claims of one campaign into one
/// script call (`ClaimBatchScript`, or `ClaimScript` for one claim), mapping replies, and the
/// grant hints written after a grant. It talks to Redis only through `AsyncRedis`, so the same
/// engine runs on one Redis or a cluster router. It must not know HTTP.
public final class ClaimEngine: @unchecked Sendable {  // confined to `loop`: every method runs on it
    public struct Options: Sendable {
        /// Claims of one campaign sent in one script call at most; 1 = one `ClaimScript` per claim.
        public var batchMax: Int
        /// How long a `sold_out` answer marks the campaign on this node; 0 = never.
        public var soldOutMarkMs: Int
        /// `WAIT` after every claim script call (`--redis-wait-replicas`); nil = answer without it.
        public var replicaWait: ReplicaWait?

        /// Sharded campaigns (issue 10): how often one claim may be retried on its home shard
        /// after a rebalance before `sold_out` is answered, and the pause before a retry when
        /// no shard has stock but some is in transit.
        public var rebalanceAttempts: Int
        public var rebalanceWaitMs: Int
        /// Fault injection for tests (`--fault-exit-after-transfer-debit`), off (0) by default:
        /// the percentage of stock-transfer debits after which the process exits at once
        /// (`_exit`), i.e. dies between a transfer's debit and its credit.
        public var faultExitAfterDebitPercent: Int

        public init(
            batchMax: Int = 64, soldOutMarkMs: Int = 250, replicaWait: ReplicaWait? = nil, rebalanceAttempts: Int = 16,
            rebalanceWaitMs: Int = 1, faultExitAfterDebitPercent: Int = 0
        ) {
            self.batchMax = batchMax
            self.soldOutMarkMs = soldOutMarkMs
            self.replicaWait = replicaWait
            self.rebalanceAttempts = rebalanceAttempts
            self.rebalanceWaitMs = rebalanceWaitMs
            self.faultExitAfterDebitPercent = faultExitAfterDebitPercent
        }
    }

    public typealias Completion = (Result<ClaimDecision, ClaimEngineError>) -> Void

    struct Pending {
        let request: ClaimRequest
        /// Who hears the decision. A waiter of up to three words (the HTTP claim path's: its
        /// handler and responder) sits inline in the existential, so a claim costs no closure
        /// context.
        let waiter: any ClaimWaiter
        /// The user's home shard (0 for an unsharded campaign).
        var shard = 0
        /// Home-shard retries after a rebalance so far.
        var attempt = 0
    }

    /// One batch: claims of one campaign's shard.
    struct BatchKey: Hashable {
        let campaignId: Int64
        let shard: Int
    }

    public let loop: EventLoop
    public let redis: any AsyncRedis
    let soldOut: SoldOutMarks
    let options: Options
    private let codes = CouponCodeGenerator()
    /// The grant hints' user-index commands, rewritten in place per grant.
    private let indexCommands = GrantHints.IndexCommands()
    private var batches: ClaimBatches<BatchKey, Pending>
    /// Shard counts of campaigns Redis has published (immutable per campaign, so cached for good).
    var shardCounts: [Int64: Int] = [:]
    /// Claims waiting for their campaign's shard count to be read.
    private var resolving: [Int64: [Pending]] = [:]
    /// Key layouts of sharded campaigns' shards.
    private var shardLayouts: [Int64: [CampaignKeys]] = [:]
    /// Refused claims waiting for their shard's rebalance (`ClaimEngine+Rebalance`).
    var rebalancing: [BatchKey: [Pending]] = [:]
    /// Transfers completed and refusals after the last attempt (`/metrics`).
    public let shardCounters: ShardCounters
    /// Sold-out refusals answered by the probe and not yet added to `out:sold_out`.
    private var localRefusals: [Int64: Int64] = [:]
    /// Campaigns granted in this turn and not yet added to `GrantHints.dirtyCampaigns`.
    private var dirty: Set<Int64> = []

    public init(loop: EventLoop, redis: any AsyncRedis, soldOut: SoldOutMarks, options: Options, shardCounters: ShardCounters = ShardCounters()) {
        self.shardCounters = shardCounters
        self.loop = loop
        self.redis = redis
        self.soldOut = soldOut
        self.options = options
        batches = ClaimBatches(max: max(1, options.batchMax))
    }

    /// Decides `request`; `completion` runs on this loop.
    public func claim(_ request: ClaimRequest, _ completion: @escaping Completion) {
        claim(request, waiter: ClosureWaiter(body: completion))
    }

    /// Decides `request`; `waiter.claimDecided` runs on this loop.
    public func claim(_ request: ClaimRequest, waiter: some ClaimWaiter) {
        loop.preconditionInEventLoop()
        let pending = Pending(request: request, waiter: waiter)
        guard let count = shardCounts[request.campaignId] else { return resolveShards(pending) }
        route(pending, shardCount: count)
    }

    /// Reads the campaign's shard count from its shard 0 meta (once per campaign and loop). A
    /// campaign Redis does not know is answered `unknown_campaign` here, as the script would,
    /// without guessing a layout.
    private func resolveShards(_ pending: Pending) {
        let campaignId = pending.request.campaignId
        if resolving[campaignId] != nil { return resolving[campaignId]!.append(pending) }
        resolving[campaignId] = [pending]
        let meta = CampaignKeys(campaignId: campaignId).meta
        redis.send(["HMGET", .string(meta), .string(CampaignMeta.state), .string(CampaignMeta.shards)]) { [self] result in
            let waiting = resolving.removeValue(forKey: campaignId) ?? []
            switch result {
            case .failure(let error):
                for item in waiting { complete(item, .failure(.redis(error))) }
            case .success(let reply):
                let fields = reply.array ?? []
                guard fields.count == 2, fields[0].string != nil else {
                    for item in waiting { complete(item, .success(.unknownCampaign)) }
                    return
                }
                let count = min(max(fields[1].string.flatMap(Int.init) ?? 1, 1), CampaignShards.maxCount)
                shardCounts[campaignId] = count
                for item in waiting { route(item, shardCount: count) }
            }
        }
    }

    /// The keys of one shard of a campaign.
    func layout(_ campaignId: Int64, shard: Int) -> CampaignKeys {
        layouts(campaignId)[shard]
    }

    func layouts(_ campaignId: Int64) -> [CampaignKeys] {
        let count = shardCounts[campaignId] ?? 1
        guard count > 1 else { return [CampaignKeys(campaignId: campaignId)] }
        if let known = shardLayouts[campaignId] { return known }
        let made = CampaignShards.keys(campaignId: campaignId, count: count)
        shardLayouts[campaignId] = made
        return made
    }

    private func route(_ submitted: Pending, shardCount: Int) {
        // A `let` for the probe's closure to capture: a captured `var` is boxed on the heap on
        // every call, whichever branch runs.
        let request = submitted.request
        let pending = Pending(
            request: request, waiter: submitted.waiter,
            shard: CampaignShards.homeShard(userId: request.userId, count: shardCount), attempt: submitted.attempt)
        guard soldOut.isMarked(request.campaignId) else { return enqueue(pending) }
        // Marked sold out: idempotency beats the mark. The read-only probe answers only a plain
        // sold out (no grant preparation, no write, no fsync wait); anything else goes to the script.
        // A sharded campaign is marked only once no shard had stock and none was in transit;
        // the probe then checks the user's home shard.
        redis.evalScript(
            SoldOutProbe.script, keys: SoldOutProbe.keys(layout(request.campaignId, shard: pending.shard)),
            args: SoldOutProbe.arguments(userId: request.userId, requestId: request.requestId)
        ) { [self] result in
            guard case .success(let reply) = result, SoldOutProbe.isSoldOut(reply) else { return enqueue(pending) }
            countLocalRefusal(request.campaignId)
            complete(pending, .success(.refused(.soldOut)))
        }
    }

    func enqueue(_ pending: Pending) {
        let key = BatchKey(campaignId: pending.request.campaignId, shard: pending.shard)
        guard batches.max > 1 else { return send([pending], key: key) }
        switch batches.add(pending, key: key) {
        case .flushAtEndOfTurn:
            loop.execute { [self] in
                for batch in batches.drain() { send(batch.items, key: batch.key) }
            }
        case .wait: break
        case .send(let items): send(items, key: key)
        }
    }

    private func send(_ items: [Pending], key: BatchKey) {
        let keys = ClaimScript.keys(layout(key.campaignId, shard: key.shard))
        // One script per mode: with batching on, a lone claim goes as a batch of one, so a
        // node runs (and loads) one claim script.
        if batches.max == 1, let only = items.first {
            let request = only.request
            let code = codes.code()
            let args = ClaimScript.arguments(
                userId: request.userId, requestId: request.requestId, code: code, tags: request.tags, channel: request.channel)
            return redis.evalScript(ClaimScript.script, keys: keys, args: args, confirmedBy: options.replicaWait) { [self] result in
                for (outcome, unconfirmed) in Self.outcomes(result, [only.request], sentCodes: [code.value]) { settle(only, outcome, unconfirmed) }
            }
        }
        let sentCodes = items.map { _ in codes.code() }
        let args = ClaimBatchScript.arguments(
            zip(items, sentCodes).map {
                (userId: $0.request.userId, requestId: $0.request.requestId, code: $1, tags: $0.request.tags, channel: $0.request.channel)
            })
        let requests = items.map(\.request)
        let offered = sentCodes.map(\.value)
        guard options.replicaWait != nil else {
            // The usual case: the batch reply is mapped where hiredis built it (no `RESPValue` copy).
            return redis.evalScript(ClaimBatchScript.script, keys: keys, args: args, decoding: { reply in
                Self.decisions(reply, requests, batched: true, sentCodes: offered)
            }) { [self] result in
                switch result {
                case .success(let decisions): for (item, decision) in zip(items, decisions) { settle(item, decision) }
                case .failure(let error): for item in items { settle(item, .failure(.redis(error))) }
                }
            }
        }
        redis.evalScript(ClaimBatchScript.script, keys: keys, args: args, confirmedBy: options.replicaWait) { [self] result in
            let outcomes = Self.outcomes(result, requests, batched: true, sentCodes: offered)
            for (item, (outcome, unconfirmed)) in zip(items, outcomes) { settle(item, outcome, unconfirmed) }
        }
    }

    /// Each claim's outcome from the script call's result. A call that ran but that too few
    /// replicas confirmed (`RedisError.unconfirmed`) still answers its refusals; its grants and
    /// replays fail with that error (503: the client's retry with the same request id returns
    /// the grant if it survived). Pure: one entry per request, in order; the second value is an
    /// unconfirmed grant (it exists on the master, so its hints are still written).
    /// `sentCodes`: the code offered with each request, shared by the grants that hold it.
    public static func outcomes(
        _ result: Result<RESPValue, RedisError>, _ requests: [ClaimRequest], batched: Bool = false, sentCodes: [String]? = nil
    ) -> [(Result<ClaimDecision, ClaimEngineError>, Grant?)] {
        let reply: RESPValue
        var shortfall: ReplicaShortfall?
        switch result {
        case .failure(.unconfirmed(let short)):
            reply = short.reply
            shortfall = short
        case .failure(let error):
            return requests.map { _ in (.failure(.redis(error)), nil) }
        case .success(let value):
            reply = value
        }
        return decisions(RESPReplyView(reply), requests, batched: batched, sentCodes: sentCodes).map { outcome in
            guard let shortfall, case .success(let decided) = outcome, let grant = decided.grant else { return (outcome, nil) }
            return (.failure(.redis(.unconfirmed(shortfall))), grant)
        }
    }

    /// Each request's decision from the script's reply (batched: one element per request, in order).
    static func decisions(
        _ reply: RESPReplyView, _ requests: [ClaimRequest], batched: Bool, sentCodes: [String]?
    ) -> [Result<ClaimDecision, ClaimEngineError>] {
        guard batched else {
            return requests.indices.map { decision(reply, requests[$0], sentCode: sentCodes?[$0]) }
        }
        guard reply.count == requests.count else {
            let text = "\(reply.value)"
            return requests.map { _ in .failure(.badReply(text)) }
        }
        return requests.indices.map { decision(reply[$0], requests[$0], sentCode: sentCodes?[$0]) }
    }

    static func decision(_ reply: RESPReplyView, _ request: ClaimRequest, sentCode: String? = nil) -> Result<ClaimDecision, ClaimEngineError> {
        guard
            let decision = ClaimDecision(
                reply: reply, campaignId: request.campaignId, userId: request.userId, requestId: request.requestId, sentCode: sentCode)
        else { return .failure(.badReply("\(reply.value)")) }
        return .success(decision)
    }

    func settle(_ pending: Pending, _ result: Result<ClaimDecision, ClaimEngineError>, _ unconfirmed: Grant? = nil) {
        if case .success(.refused(.soldOut)) = result, (shardCounts[pending.request.campaignId] ?? 1) > 1 {
            return rebalance(pending)  // the home shard ran dry: move stock, retry there, or answer sold_out
        }
        if case .success(let decision) = result {
            switch decision {
            case .refused(.soldOut):
                if options.soldOutMarkMs > 0 {
                    soldOut.mark(pending.request.campaignId, forNanoseconds: UInt64(options.soldOutMarkMs) * 1_000_000)
                }
            case .granted: soldOut.clear(pending.request.campaignId)  // stock was added back
            default: break
            }
        }
        complete(pending, result)
        let channel = pending.request.channel
        if case .success(.granted(let grant)) = result { recordHints(grant, channel: channel) }
        if case .success(.replayed(let grant)) = result { recordHints(grant, channel: channel) }
        if let unconfirmed { recordHints(unconfirmed, channel: channel) }
    }

    /// This loop's CSPRNG-backed code source, for other grant paths on the loop (exchanges, draws).
    public var codeGenerator: CouponCodeGenerator { codes }

    /// Records the hints of a grant decided by another script on this loop (an exchange), as
    /// the engine does for its own grants.
    public func recordGrantHints(_ grant: Grant) { recordHints(grant) }

    /// `GrantHints` after the reply, without waiting: the user-index entry per grant (not for
    /// the claim's `channel` when it is `bulk`: `GrantHints.isIndexed`), and one `SADD cp:dirty`
    /// per loop turn for every campaign granted in that turn.
    private func recordHints(_ grant: Grant, channel: String = "") {
        if GrantHints.isIndexed(channel: channel) {
            indexCommands.with(grant) { zadd, pexpire in
                redis.sendDiscardingReply(zadd)
                redis.sendDiscardingReply(pexpire)
            }
        }
        let first = dirty.isEmpty
        dirty.insert(grant.campaignId)
        guard first else { return }
        loop.execute { [self] in
            let campaigns = dirty.sorted()
            dirty = []
            guard !campaigns.isEmpty else { return }
            redis.send(GrantHints.markDirtyCommand(campaigns)) { _ in }
        }
    }

    /// Refusals answered by the probe still count in Redis (`out:sold_out`, finance reads it):
    /// one `HINCRBY` per campaign per loop turn, not one per request.
    func countTransfer(units: Int64) {
        shardCounters.transfers.add(1, ordering: .relaxed)
        shardCounters.unitsMoved.add(Int(units), ordering: .relaxed)
    }

    func countLocalRefusal(_ campaignId: Int64) {
        let first = localRefusals.isEmpty
        localRefusals[campaignId, default: 0] += 1
        guard first else { return }
        loop.execute { [self] in
            let counts = localRefusals
            localRefusals = [:]
            for (campaign, count) in counts.sorted(by: { $0.key < $1.key }) {
                redis.send(
                    ["HINCRBY", .string(layout(campaign, shard: 0).meta), .string(CampaignMeta.outcomeCounter("sold_out")), .int(count)]
                ) { _ in }
            }
        }
    }
}
