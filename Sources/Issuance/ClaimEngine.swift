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

        public init(batchMax: Int = 64, soldOutMarkMs: Int = 250, replicaWait: ReplicaWait? = nil) {
            self.batchMax = batchMax
            self.soldOutMarkMs = soldOutMarkMs
            self.replicaWait = replicaWait
        }
    }

    public typealias Completion = (Result<ClaimDecision, ClaimEngineError>) -> Void

    struct Pending {
        let request: ClaimRequest
        let completion: Completion
    }

    public let loop: EventLoop
    public let redis: any AsyncRedis
    private let soldOut: SoldOutMarks
    private let options: Options
    private let codes = CouponCodeGenerator()
    private var batches: ClaimBatches<Pending>
    /// Sold-out refusals answered by the probe and not yet added to `out:sold_out`.
    private var localRefusals: [Int64: Int64] = [:]
    /// Campaigns granted in this turn and not yet added to `GrantHints.dirtyCampaigns`.
    private var dirty: Set<Int64> = []

    public init(loop: EventLoop, redis: any AsyncRedis, soldOut: SoldOutMarks, options: Options) {
        self.loop = loop
        self.redis = redis
        self.soldOut = soldOut
        self.options = options
        batches = ClaimBatches(max: max(1, options.batchMax))
    }

    /// Decides `request`; `completion` runs on this loop.
    public func claim(_ request: ClaimRequest, _ completion: @escaping Completion) {
        loop.preconditionInEventLoop()
        let pending = Pending(request: request, completion: completion)
        guard soldOut.isMarked(request.campaignId) else { return enqueue(pending) }
        // Marked sold out: idempotency beats the mark. The read-only probe answers only a plain
        // sold out (no grant preparation, no write, no fsync wait); anything else goes to the script.
        redis.evalScript(
            SoldOutProbe.script, keys: SoldOutProbe.keys(CampaignKeys(campaignId: request.campaignId)),
            args: SoldOutProbe.arguments(userId: request.userId, requestId: request.requestId)
        ) { [self] result in
            guard case .success(let reply) = result, SoldOutProbe.isSoldOut(reply) else { return enqueue(pending) }
            countLocalRefusal(request.campaignId)
            completion(.success(.refused(.soldOut)))
        }
    }

    private func enqueue(_ pending: Pending) {
        guard batches.max > 1 else { return send([pending], campaignId: pending.request.campaignId) }
        switch batches.add(pending, campaignId: pending.request.campaignId) {
        case .flushAtEndOfTurn:
            loop.execute { [self] in
                for batch in batches.drain() { send(batch.items, campaignId: batch.campaignId) }
            }
        case .wait: break
        case .send(let items): send(items, campaignId: pending.request.campaignId)
        }
    }

    private func send(_ items: [Pending], campaignId: Int64) {
        let keys = ClaimScript.keys(CampaignKeys(campaignId: campaignId))
        // One script per mode: a NOSCRIPT retry (after SCRIPT FLUSH or a restart) re-sends the
        // call after commands already pipelined behind it, which keeps claims in order only if
        // those failed with NOSCRIPT too, i.e. used the same script. So with batching on, a
        // lone claim goes as a batch of one.
        if batches.max == 1, let only = items.first {
            let request = only.request
            let args = ClaimScript.arguments(
                userId: request.userId, requestId: request.requestId, code: codes.code(), tags: request.tags, channel: request.channel)
            return redis.evalScript(ClaimScript.script, keys: keys, args: args, confirmedBy: options.replicaWait) { [self] result in
                for (outcome, unconfirmed) in Self.outcomes(result, [only.request]) { settle(only, outcome, unconfirmed) }
            }
        }
        let args = ClaimBatchScript.arguments(
            items.map {
                (userId: $0.request.userId, requestId: $0.request.requestId, code: codes.code(), tags: $0.request.tags, channel: $0.request.channel)
            })
        redis.evalScript(ClaimBatchScript.script, keys: keys, args: args, confirmedBy: options.replicaWait) { [self] result in
            let outcomes = Self.outcomes(result, items.map(\.request), batched: true)
            for (item, (outcome, unconfirmed)) in zip(items, outcomes) { settle(item, outcome, unconfirmed) }
        }
    }

    /// Each claim's outcome from the script call's result. A call that ran but that too few
    /// replicas confirmed (`RedisError.unconfirmed`) still answers its refusals; its grants and
    /// replays fail with that error (503: the client's retry with the same request id returns
    /// the grant if it survived). Pure: one entry per request, in order; the second value is an
    /// unconfirmed grant (it exists on the master, so its hints are still written).
    public static func outcomes(
        _ result: Result<RESPValue, RedisError>, _ requests: [ClaimRequest], batched: Bool = false
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
        let replies: [RESPValue]
        if batched {
            guard let array = reply.array, array.count == requests.count else {
                return requests.map { _ in (.failure(.badReply("\(reply)")), nil) }
            }
            replies = array
        } else {
            replies = [reply]
        }
        return zip(requests, replies).map { request, reply in
            let outcome = decision(reply, request)
            guard let shortfall, case .success(let decided) = outcome, let grant = decided.grant else { return (outcome, nil) }
            return (.failure(.redis(.unconfirmed(shortfall))), grant)
        }
    }

    static func decision(_ reply: RESPValue, _ request: ClaimRequest) -> Result<ClaimDecision, ClaimEngineError> {
        guard
            let decision = ClaimDecision(
                reply: reply, campaignId: request.campaignId, userId: request.userId, requestId: request.requestId)
        else { return .failure(.badReply("\(reply)")) }
        return .success(decision)
    }

    private func settle(_ pending: Pending, _ result: Result<ClaimDecision, ClaimEngineError>, _ unconfirmed: Grant? = nil) {
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
        pending.completion(result)
        if case .success(.granted(let grant)) = result { recordHints(grant) }
        if case .success(.replayed(let grant)) = result { recordHints(grant) }
        if let unconfirmed { recordHints(unconfirmed) }
    }

    /// This loop's CSPRNG-backed code source, for other grant paths on the loop (exchanges, draws).
    public var codeGenerator: CouponCodeGenerator { codes }

    /// Records the hints of a grant decided by another script on this loop (an exchange), as
    /// the engine does for its own grants.
    public func recordGrantHints(_ grant: Grant) { recordHints(grant) }

    /// `GrantHints` after the reply, without waiting: the user-index entry per grant, and one
    /// `SADD cp:dirty` per loop turn for every campaign granted in that turn.
    private func recordHints(_ grant: Grant) {
        for command in GrantHints.indexCommands(grant) { redis.sendDiscardingReply(command) }
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
    private func countLocalRefusal(_ campaignId: Int64) {
        let first = localRefusals.isEmpty
        localRefusals[campaignId, default: 0] += 1
        guard first else { return }
        loop.execute { [self] in
            let counts = localRefusals
            localRefusals = [:]
            for (campaign, count) in counts.sorted(by: { $0.key < $1.key }) {
                redis.send(
                    ["HINCRBY", .string(CampaignKeys(campaignId: campaign).meta), .string(CampaignMeta.outcomeCounter("sold_out")), .int(count)]
                ) { _ in }
            }
        }
    }
}
