import CouponCore
import EventLoop
import HTTPServer
import Issuance
import RedisClient

/// `POST /v1/campaigns/{id}/claims`: the flash-sale hot path. Runs entirely on the
/// connection's event loop: parse, one EVALSHA on the loop's Redis connection
/// (auto-pipelined with every other claim of this loop turn), answer.
struct ClaimHandler {
    let api: API

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters["id"].flatMap(Int64.init), campaignId > 0 else {
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
        guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
        let keys = CampaignKeys(campaignId: campaignId)
        let code = CouponCode.random()
        let metrics = api.metrics
        api.redis(on: loop).evalScript(
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
                responder.respond(Self.response(decision))
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
        }
    }
}
