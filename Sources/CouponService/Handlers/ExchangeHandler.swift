import CouponCore
import EventLoop
import HTTPServer
import Issuance
import Points
import RedisClient

/// `POST /v1/campaigns/{id}/exchanges` {user_id, request_id, tags?} (role `issue`): spends the
/// campaign's points cost and grants its coupon (issue 11). Runs on the connection's loop like a
/// claim; the steps and their guarantees are `Exchange`'s.
struct ExchangeHandler {
    let api: API
    let settings = ExchangeSettingsCache()

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else { return responder.respond(APIError.notFound("campaign")) }
        let exchange: ExchangeRequest
        do throws(HTTPResponseError) {
            let body = try CheckoutRequest.body(request, allowed: ["user_id", "request_id", "tags"])
            var tags: [String] = []
            if let value = body["tags"] {
                guard let items = value.arrayValue, items.count <= 20, let strings = Optional(items.compactMap(\.stringValue)),
                    strings.count == items.count, strings.allSatisfy(Identifier.isValid)
                else { throw HTTPResponseError(APIError.invalid("tags must be an array of at most 20 identifiers")) }
                tags = strings
            }
            exchange = ExchangeRequest(
                campaignId: campaignId, userId: try CheckoutRequest.identifier(body, "user_id"),
                requestId: try CheckoutRequest.identifier(body, "request_id"), tags: tags)
        } catch {
            return responder.respond(error.response)
        }
        let attempt = api.limits.claimAttempt(campaignId: campaignId, userId: exchange.userId)
        guard attempt == .allowed else {
            api.metrics.recordClaim(outcome: "rate_limited")
            return responder.respond(APIError.rateLimited(attempt))
        }
        guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
        let redis = api.redis(on: loop)
        let logger = api.logger
        ExchangeRunner.run(
            exchange, code: api.engine(on: loop).codeGenerator.code(), redis: redis, settings: settings,
            onFinishFailure: { error in logger.warning("exchange_finish_deferred", ["error": "\(error)", "request_id": exchange.requestId]) }
        ) { [api] result in
            switch result {
            case .success(let outcome):
                responder.respond(Self.response(outcome))
                switch outcome {
                case .granted(let grant, _), .replayed(let grant): api.engine(on: loop).recordGrantHints(grant)
                case .refused: break
                }
            case .failure(let error):
                // The reservation (if any) stays pending; the recovery sweep finishes it.
                if !error.isUnavailable { api.logger.error("exchange_redis_error", ["error": "\(error)"]) }
                api.metrics.redisUnavailable.add(1, ordering: .relaxed)
                responder.respond(error.isUnavailable ? APIError.unavailable("Redis") : APIError.backend(error))
            }
        }
    }

    static func response(_ outcome: ExchangeResult) -> HTTPResponse {
        switch outcome {
        case .granted(let grant, let spent):
            return .json(status: 201, body: JSONWriter.object {
                ClaimHandler.grantFields(grant, into: &$0)
                $0.field("points_spent", spent)
            })
        case .replayed(let grant):
            return .json(status: 201, body: JSONWriter.object { ClaimHandler.grantFields(grant, into: &$0) })
        case .refused(let code):
            switch code {
            case "unknown_campaign": return APIError.notFound("campaign")
            case "request_conflict":
                return .error(status: 422, code: "idempotency_conflict", message: "request_id was already used by another user for this campaign")
            case "insufficient_points": return .error(status: 409, code: code, message: "the user's balance is less than the campaign's points cost")
            case "below_min_balance":
                return .error(status: 409, code: code, message: "the user's balance is below the campaign's minimum points balance")
            case "points_unavailable": return PointsHandlers.pointsUnavailable
            case "not_exchange": return .error(status: 409, code: code, message: "this campaign does not exchange points; claim it instead")
            default:
                let message = ClaimRefusal(rawValue: code).map(ClaimHandler.refusalMessage) ?? "refused"
                return .error(status: 409, code: code, message: message + " (no points were spent)")
            }
        }
    }
}
