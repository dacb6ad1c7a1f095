import CouponCore
import EventLoop
import Synchronization
import HTTPServer
import Issuance
import RedisClient
import RiskControl

/// `POST /v1/campaigns/{id}/claims`: the flash-sale hot path. Runs entirely on the
/// connection's event loop: parse, one EVALSHA on the loop's Redis connection
/// (auto-pipelined with every other claim of this loop turn), answer.
struct ClaimHandler {
    let api: API
    /// Campaigns this node recently saw sold out (see `SoldOutMarks`).
    let soldOut = SoldOutMarks()
    /// Per-second outcome counts in Redis for the console's charts (see `ClaimSeries`).
    let series = ClaimSeries.Recorder()

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else {
            return responder.respond(APIError.notFound("campaign"))
        }
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        let userId: String, requestId: String
        switch (RequestBody.identifier(body, "user_id"), RequestBody.identifier(body, "request_id")) {
        case (.success(let user), .success(let request)): (userId, requestId) = (user, request)
        case (.failure(let failure), _), (_, .failure(let failure)): return responder.respond(failure.response)
        }
        var tags: [String] = []
        if let value = body["tags"] {
            guard let items = value.arrayValue, items.count <= 20,
                let strings = Optional(items.compactMap(\.stringValue)), strings.count == items.count,
                strings.allSatisfy(Identifier.isValid)
            else { return responder.respond(APIError.invalid("tags must be an array of at most 20 identifiers")) }
            tags = strings
        }
        // Risk control before Redis is asked: over its rate, a user is refused here even if the
        // script would refuse too (limit_reached, sold_out): the refusal costs Redis nothing.
        let attempt = api.limits.claimAttempt(campaignId: campaignId, userId: userId)
        guard attempt == .allowed else {
            api.metrics.recordClaim(outcome: "rate_limited")
            if api.configuration.claimSeries, let loop = EventLoop.current {
                series.record(campaignId, outcome: "rate_limited", redis: api.redis(on: loop), loop: loop)
            }
            return responder.respond(APIError.rateLimited(attempt))
        }
        guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
        let keys = CampaignKeys(campaignId: campaignId)
        let redis = api.redis(on: loop)
        guard soldOut.isMarked(campaignId) else {
            return claim(keys, userId: userId, requestId: requestId, tags: tags, redis: redis, loop: loop, responder)
        }
        // Marked sold out: idempotency beats the mark. A retry of a request granted earlier (on
        // any node) must get its coupon back, and refusals keep the script's order (limit_reached
        // before sold_out), so a read-only probe decides: plain sold out → answered here (no
        // grant preparation, no write, no fsync wait for this request); anything else → the
        // full script, which replays a stored result.
        redis.evalScript(
            SoldOutProbe.script, keys: SoldOutProbe.keys(keys, userId: userId, requestId: requestId),
            args: SoldOutProbe.arguments(userId: userId)
        ) { [api, soldOut] result in
            guard case .success(let reply) = result, SoldOutProbe.isSoldOut(reply) else {
                return claim(keys, userId: userId, requestId: requestId, tags: tags, redis: redis, loop: loop, responder)
            }
            api.metrics.recordClaim(outcome: "sold_out")
            if api.configuration.claimSeries { series.record(campaignId, outcome: "sold_out", redis: redis, loop: loop) }
            soldOut.countLocalRefusal(campaignId, keys: keys, redis: redis, loop: loop)
            responder.respond(Self.response(.refused(.soldOut)))
        }
    }

    private func claim(
        _ keys: CampaignKeys, userId: String, requestId: String, tags: [String], redis: any AsyncRedis, loop: EventLoop,
        _ responder: Responder
    ) {
        let campaignId = keys.campaignId
        let code = api.codes(on: loop).code()
        let metrics = api.metrics
        let soldOut = self.soldOut
        let series = self.series
        let markNanos = UInt64(api.configuration.soldOutMarkMs) * 1_000_000
        redis.evalScript(
            ClaimScript.script,
            keys: ClaimScript.keys(keys, userId: userId, requestId: requestId),
            args: ClaimScript.arguments(userId: userId, requestId: requestId, code: code, tags: tags)
        ) { [api] result in
            switch result {
            case .success(let reply):
                guard let decision = ClaimDecision(reply: reply, campaignId: campaignId, userId: userId, requestId: requestId)
                else {
                    api.logger.error("claim_bad_reply", ["reply": "\(reply)"])
                    return responder.respond(APIError.internalError)
                }
                metrics.recordClaim(outcome: decision.outcome)
                if api.configuration.claimSeries { series.record(campaignId, outcome: decision.outcome, redis: redis, loop: loop) }
                switch decision {
                case .refused(.soldOut): if markNanos > 0 { soldOut.mark(campaignId, forNanoseconds: markNanos) }
                case .granted: soldOut.clear(campaignId)  // stock was added back
                default: break
                }
                responder.respond(Self.response(decision))
                if case .granted(let grant) = decision { api.grantHints.record(grant, redis: redis, loop: loop) }
                if case .replayed(let grant) = decision { api.grantHints.record(grant, redis: redis, loop: loop) }
            case .failure(let error):
                metrics.recordClaim(outcome: "unavailable")
                if !error.isUnavailable { api.logger.error("claim_redis_error", ["error": "\(error)"]) }
                metrics.redisUnavailable.add(1, ordering: .relaxed)
                responder.respond(error.isUnavailable ? APIError.unavailable("Redis") : APIError.backend(error))
            }
        }
    }

    static func response(_ decision: ClaimDecision) -> HTTPResponse {
        switch decision {
        case .granted(let grant), .replayed(let grant):
            return .json(status: 201, body: JSONWriter.object { grantFields(grant, into: &$0) })
        case .refused(let refusal):
            return .error(status: 409, code: refusal.rawValue, message: refusalMessage(refusal))
        case .unknownCampaign:
            return APIError.notFound("campaign")
        case .requestConflict:
            return .error(
                status: 422, code: "idempotency_conflict", message: "request_id was already used by another user for this campaign")
        }
    }

    static func grantFields(_ grant: Grant, into object: inout JSONObjectWriter) {
        object.field("code", grant.code)
        object.field("campaign_id", grant.campaignId)
        object.field("user_id", grant.userId)
        object.field("request_id", grant.requestId)
        object.field("state", "issued")
        object.field("issued_at", RFC3339.format(epochMs: grant.issuedAtMs))
        object.field("valid_from", RFC3339.format(epochMs: grant.validFromMs))
        object.field("valid_until", RFC3339.format(epochMs: grant.validUntilMs))
    }

    static func refusalMessage(_ refusal: ClaimRefusal) -> String {
        switch refusal {
        case .soldOut: "the campaign has no coupons left"
        case .limitReached: "this user has claimed as many coupons as the campaign allows"
        case .notStarted: "the campaign's claim window has not opened yet"
        case .ended: "the campaign's claim window has closed"
        case .paused: "the campaign is paused"
        case .notEligible: "this user does not meet the campaign's eligibility rules"
        case .validityEnded: "the campaign's coupons are no longer valid: one granted now would be born expired"
        case .pointsRequired: "this campaign exchanges its coupons for points: use POST /v1/campaigns/{id}/exchanges"
        }
    }
}

/// The node-local "sold out" mark: after Redis answers `sold_out` for a campaign, claims for it
/// run the read-only `SoldOutProbe` instead of the claim script for `soldOutMarkMs`. It is only a
/// hint: a request whose id Redis has seen, or any case where the script would refuse for another
/// reason, still goes through the script (replays beat the mark); a `granted` answer clears it.
/// Refusals answered here are still counted in Redis (`out:sold_out`, finance reads it): one
/// `HINCRBY` per campaign per loop turn, not one per request.
final class SoldOutMarks: Sendable {
    private let expiries = Mutex<[Int64: UInt64]>([:])
    /// Refusals answered locally and not yet added to Redis, per loop and campaign.
    private let pending = Mutex<[ObjectIdentifier: [Int64: Int64]]>([:])

    func isMarked(_ campaignId: Int64) -> Bool {
        guard let expiry = expiries.withLock({ $0[campaignId] }) else { return false }
        return MonotonicClock.now() < expiry
    }

    func mark(_ campaignId: Int64, forNanoseconds nanos: UInt64) {
        let expiry = MonotonicClock.now() &+ nanos
        expiries.withLock { $0[campaignId] = expiry }
    }

    func clear(_ campaignId: Int64) {
        _ = expiries.withLock { $0.removeValue(forKey: campaignId) }
    }

    /// Adds one locally answered refusal to the campaign's Redis counter at the end of this loop turn.
    func countLocalRefusal(_ campaignId: Int64, keys: CampaignKeys, redis: any AsyncRedis, loop: EventLoop) {
        let id = ObjectIdentifier(loop)
        let first = pending.withLock { table -> Bool in
            let wasEmpty = table[id]?.isEmpty ?? true
            table[id, default: [:]][campaignId, default: 0] += 1
            return wasEmpty
        }
        guard first else { return }
        let hop = LoopBound(redis, loop: loop)
        loop.execute { [self] in
            let counts = pending.withLock { table in table.removeValue(forKey: id) ?? [:] }
            for (campaign, count) in counts {
                hop.value.send(["HINCRBY", .string(CampaignKeys(campaignId: campaign).meta), "out:sold_out", .int(count)]) { _ in }
            }
        }
    }
}
