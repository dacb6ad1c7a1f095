import CouponCore
import EventLoop
import HTTPServer
import Issuance
import RedisClient
import RiskControl

/// `POST /v1/campaigns/{id}/claims`: the flash-sale hot path, as translation only. Parses the
/// request, applies the claim rate limit, hands the claim to the loop's `ClaimEngine` and
/// answers its `ClaimDecision`; all on the connection's event loop. A class, made once per
/// node, so that a claim's `Answer` (this and the responder) fits the engine's inline waiter.
final class ClaimHandler: Sendable {
    let api: API
    /// Per-second outcome counts in Redis for the console's charts (see `ClaimSeries`).
    let series = ClaimSeries.Recorder()

    init(api: API) { self.api = api }

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else {
            return responder.respond(APIError.notFound("campaign"))
        }
        let userId: String, requestId: String, tags: [String], channel: String
        switch Self.decodeBody(request, channels: api.configuration.claimChannels) {
        case .success(let decoded): (userId, requestId, tags, channel) = decoded
        case .failure(let failure): return responder.respond(failure.response)
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
        let request = ClaimRequest(campaignId: campaignId, userId: userId, requestId: requestId, tags: tags, channel: channel)
        api.engine(on: loop).claim(request, waiter: Answer(handler: self, responder: responder))
    }

    /// Answers a claim's decision: the handler and the responder, three words, held inline by
    /// the engine (no closure context per claim).
    struct Answer: ClaimWaiter {
        let handler: ClaimHandler
        let responder: Responder

        func claimDecided(_ result: Result<ClaimDecision, ClaimEngineError>, request: ClaimRequest, engine: ClaimEngine) {
            let api = handler.api
            switch result {
            case .success(let decision):
                api.metrics.recordClaim(outcome: decision.outcome)
                if api.configuration.claimSeries {
                    handler.series.record(request.campaignId, outcome: decision.outcome, redis: engine.redis, loop: engine.loop)
                }
                responder.respond(ClaimHandler.response(decision))
            case .failure(.badReply(let reply)):
                api.logger.error("claim_bad_reply", ["reply": reply])
                responder.respond(APIError.internalError)
            case .failure(.redis(.unconfirmed(let shortfall))):
                api.metrics.recordClaim(outcome: "unconfirmed")
                responder.respond(APIError.unconfirmed(shortfall))
            case .failure(.redis(let error)):
                api.metrics.recordClaim(outcome: "unavailable")
                if !error.isUnavailable { api.logger.error("claim_redis_error", ["error": "\(error)"]) }
                api.metrics.redisUnavailable.add(1, ordering: .relaxed)
                responder.respond(error.isUnavailable ? APIError.unavailable("Redis") : APIError.backend(error))
            }
        }
    }

    private static let fastPathKeys: [StaticString] = ["user_id", "request_id", "channel"]

    /// `user_id`, `request_id`, `tags` and `channel` ("" when none) of a claim body. The usual
    /// body, one flat object of the first two strings (and a channel), is decoded straight from the bytes
    /// (`JSONStringFields`: no value tree, no key `String`s); anything else (tags, a channel,
    /// other members, errors) by `JSONParser` and the general rules, which give every error
    /// message, so both paths answer a body alike. `channels`: the configured closed set.
    static func decodeBody(
        _ request: HTTPRequest, channels: Set<String>
    ) -> Result<(String, String, [String], String), HTTPResponseError> {
        if !request.body.isEmpty {
            let fast: JSONStringFields.Fields? = request.body.withUnsafeBufferPointer { bytes in
                try? JSONStringFields.decodeFields(bytes, keys: fastPathKeys)
            }
            if let fast, let userId = fast[0], let requestId = fast[1], Identifier.isValid(userId), Identifier.isValid(requestId),
                fast[2].map(channels.contains) ?? true
            {
                return .success((userId, requestId, [], fast[2] ?? ""))
            }
        }
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return .failure(failure)
        }
        let userId: String, requestId: String
        switch (RequestBody.identifier(body, "user_id"), RequestBody.identifier(body, "request_id")) {
        case (.success(let user), .success(let request)): (userId, requestId) = (user, request)
        case (.failure(let failure), _), (_, .failure(let failure)): return .failure(failure)
        }
        var tags: [String] = []
        if let value = body["tags"] {
            guard let items = value.arrayValue, items.count <= 20,
                let strings = Optional(items.compactMap(\.stringValue)), strings.count == items.count,
                strings.allSatisfy(Identifier.isValid)
            else { return .failure(HTTPResponseError(APIError.invalid("tags must be an array of at most 20 identifiers"))) }
            tags = strings
        }
        var channel = ""
        if let value = body["channel"], value != .null {
            guard let name = value.stringValue, channels.contains(name) else {
                return .failure(HTTPResponseError(APIError.invalid("channel must be one of: \(channels.sorted().joined(separator: ", "))")))
            }
            channel = name
        }
        return .success((userId, requestId, tags, channel))
    }

    static func response(_ decision: ClaimDecision) -> HTTPResponse {
        switch decision {
        case .granted(let grant), .replayed(let grant):
            // Straight into one buffer of the usual size: literal keys, timestamps as digits.
            var body: [UInt8] = []
            body.reserveCapacity(256)
            JSONWriter.append(to: &body) { writer in writer.writeObject { grantFields(grant, into: &$0) } }
            return .json(status: 201, body: body)
        case .refused(let refusal):
            return .error(status: 409, code: refusal.rawValue, message: refusalMessage(refusal))
        case .unknownCampaign:
            return APIError.notFound("campaign")
        case .requestConflict:
            return .error(
                status: 422, code: "idempotency_conflict", message: "request_id was already used by another user for this campaign")
        }
    }

    /// A grant's members, with literal keys and timestamps written as digits (no `String`s).
    static func grantFields(_ grant: Grant, into object: inout JSONObjectWriter) {
        object.member("code", grant.code)
        object.member("campaign_id", grant.campaignId)
        object.member("user_id", grant.userId)
        object.member("request_id", grant.requestId)
        object.member("state", "issued")
        object.timestampMember("issued_at", epochMs: grant.issuedAtMs)
        object.timestampMember("valid_from", epochMs: grant.validFromMs)
        object.timestampMember("valid_until", epochMs: grant.validUntilMs)
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
        case .dailyLimitReached: "this user has claimed as many coupons today as the campaign allows per day"
        case .weeklyLimitReached: "this user has claimed as many coupons this week as the campaign allows per week"
        case .dailySoldOut: "today's coupons are all taken; the next ones are released at the campaign's daily release time"
        }
    }
}
