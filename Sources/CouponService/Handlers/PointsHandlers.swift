import CouponCore
import Foundation
import HTTPServer
import Points
import RedisClient
import Store

/// Points accounts (issue 11): earn, adjust, balance, history. Handlers translate HTTP; the
/// rules live in `Points` (`PointsCredit`, `PointsScripts`, `PointsAccount`).
struct PointsHandlers {
    let api: API
    static let maxPoints: Int64 = 1_000_000_000
    static let maxReasonLength = 200

    /// `POST /v1/users/{user_id}/points/earn` {points, reason, order_id?, idempotency_key, expires_at?}
    func earn(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        credit(.earn, request, parameters, responder)
    }

    /// `POST /v1/users/{user_id}/points/adjust` {points (±), reason, idempotency_key, expires_at?}
    func adjust(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        credit(.adjust, request, parameters, responder)
    }

    private func credit(_ kind: PointsCredit.Kind, _ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let credit: PointsCredit
        do throws(HTTPResponseError) {
            credit = try Self.decodeCredit(kind, request, parameters, policy: api.configuration.pointsExpiry)
        } catch {
            return responder.respond(error.response)
        }
        api.blocking(responder) { context in
            switch try credit.apply(on: context.redis()) {
            case .applied(let seq, let balance, let at): return Self.creditResponse(credit, seq: seq, balance: balance, atMs: at, status: 201)
            case .replayed(let seq, let balance, let at): return Self.creditResponse(credit, seq: seq, balance: balance, atMs: at, status: 200)
            case .conflict: return IdempotencyKey.conflict
            case .expired: return APIError.invalid("expires_at is in the past")
            case .rebuilding: return Self.pointsUnavailable
            case .insufficientPoints(let balance):
                return .error(status: 409, code: "insufficient_points", message: "the balance is \(balance) points, less than the debit")
            }
        }
    }

    /// 503 while Redis' copy of the accounts is rebuilt from `points_ledger` after a loss.
    static let pointsUnavailable = HTTPResponse.error(
        status: 503, code: "points_unavailable", message: "points accounts are being rebuilt from PostgreSQL; retry shortly", retryAfterSeconds: 1)

    static func decodeCredit(
        _ kind: PointsCredit.Kind, _ request: HTTPRequest, _ parameters: RouteParameters, policy: PointsExpiryPolicy
    ) throws(HTTPResponseError) -> PointsCredit {
        guard let userId = parameters["user_id"], Identifier.isValid(userId) else {
            throw HTTPResponseError(APIError.invalid("user_id \(Identifier.rule)"))
        }
        let allowed: Set<String> = kind == .earn
            ? ["points", "reason", "order_id", "idempotency_key", "expires_at"] : ["points", "reason", "idempotency_key", "expires_at"]
        let body = try CheckoutRequest.body(request, allowed: allowed)
        guard let points = body["points"]?.int64Value, points != 0, abs(points) <= maxPoints, kind == .adjust || points > 0 else {
            let range = kind == .earn ? "from 1 to \(maxPoints)" : "from -\(maxPoints) to \(maxPoints), not 0"
            throw HTTPResponseError(APIError.invalid("points must be an integer \(range)"))
        }
        guard let reason = body["reason"]?.stringValue, !reason.isEmpty, reason.count <= maxReasonLength, !reason.contains("\0") else {
            throw HTTPResponseError(APIError.invalid("reason is required: 1 to \(maxReasonLength) characters"))
        }
        let key = try CheckoutRequest.identifier(body, "idempotency_key")
        let orderId = try CheckoutRequest.optionalIdentifier(body, "order_id")
        var expiry = policy.expiryMs(earnedAtMs: Int64(Date().timeIntervalSince1970 * 1000))
        if let value = body["expires_at"], !value.isNull {
            guard let text = value.stringValue, let ms = RFC3339.parse(text) else {
                throw HTTPResponseError(APIError.invalid("expires_at must be an RFC 3339 time"))
            }
            expiry = ms
        }
        var credit = PointsCredit(
            userId: userId, kind: kind, points: points, expiresAtMs: expiry, reason: reason, orderId: orderId, idempotencyKey: key,
            digest: "")
        // The policy's expiry depends on when the request arrives; a retry must still match.
        let explicit = body["expires_at"].map { !$0.isNull } ?? false
        let identity = [credit.kind.rawValue, userId, String(points), explicit ? String(expiry ?? 0) : "policy", reason, orderId ?? ""]
        credit = PointsCredit(
            userId: userId, kind: kind, points: points, expiresAtMs: expiry, reason: reason, orderId: orderId, idempotencyKey: key,
            digest: SHA256.hexDigest(identity.joined(separator: "\n")))
        return credit
    }

    static func creditResponse(_ credit: PointsCredit, seq: Int64, balance: Int64, atMs: Int64, status: Int) -> HTTPResponse {
        .json(
            status: status,
            body: JSONWriter.object {
                $0.field("user_id", credit.userId)
                $0.field("kind", credit.kind.rawValue)
                $0.field("points", credit.points)
                $0.field("seq", seq)
                $0.field("balance", balance)
                $0.field("at", RFC3339.format(epochMs: atMs))
                $0.field("idempotency_key", credit.idempotencyKey)
            })
    }

    /// `GET /v1/users/{user_id}/points`: balance, live lots, next expiry (from Redis).
    func balance(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let userId = parameters["user_id"], Identifier.isValid(userId) else {
            return responder.respond(APIError.invalid("user_id \(Identifier.rule)"))
        }
        api.blocking(responder) { context in
            let account = try PointsAccount.read(userId, nowMs: Int64(Date().timeIntervalSince1970 * 1000), on: context.redis())
            return .json(
                body: JSONWriter.object { object in
                    object.field("user_id", userId)
                    object.field("balance", account.balance)
                    object.arrayField("lots") { array in
                        for lot in account.lots {
                            array.objectElement {
                                $0.field("points", lot.points)
                                if let at = lot.expiresAtMs { $0.field("expires_at", RFC3339.format(epochMs: at)) } else { $0.nullField("expires_at") }
                            }
                        }
                    }
                    if let next = account.nextExpiry, let at = next.expiresAtMs {
                        object.objectField("next_expiry") {
                            $0.field("points", next.points)
                            $0.field("expires_at", RFC3339.format(epochMs: at))
                        }
                    } else {
                        object.nullField("next_expiry")
                    }
                })
        }
    }

    /// `GET /v1/users/{user_id}/points/history?limit=&before_seq=`: the ledger, newest first.
    func history(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let userId = parameters["user_id"], Identifier.isValid(userId) else {
            return responder.respond(APIError.invalid("user_id \(Identifier.rule)"))
        }
        var limit = 50
        if let text = request.query["limit"] {
            guard let value = Int(text), (1...500).contains(value), String(value) == text else {
                return responder.respond(APIError.invalid("limit must be an integer from 1 to 500"))
            }
            limit = value
        }
        var before: Int64?
        if let text = request.query["before_seq"] {
            guard let value = Int64(text), value > 0, String(value) == text else {
                return responder.respond(APIError.invalid("before_seq must be a positive integer"))
            }
            before = value
        }
        api.blocking(responder) { context in
            let events = try PointsStore.history(userId: userId, beforeSeq: before, limit: limit, on: context.postgres())
            return .json(
                body: JSONWriter.object { object in
                    object.field("user_id", userId)
                    object.arrayField("entries") { array in
                        for event in events { array.objectElement { Self.eventFields(event, into: &$0) } }
                    }
                    if events.count == limit, let last = events.last { object.field("next_before_seq", last.seq) } else { object.nullField("next_before_seq") }
                })
        }
    }

    static func eventFields(_ event: PointsEvent, into object: inout JSONObjectWriter) {
        object.field("seq", event.seq)
        object.field("kind", event.kind.rawValue)
        object.field("points", event.points)
        object.field("balance_after", event.balanceAfter)
        object.field("at", RFC3339.format(epochMs: event.atMs))
        if let at = event.lotExpiryMs { object.field("lot_expires_at", RFC3339.format(epochMs: at)) }
        if let reason = event.reason { object.field("reason", reason) }
        if let order = event.orderId { object.field("order_id", order) }
        if let key = event.idempotencyKey { object.field("idempotency_key", key) }
        if let campaign = event.campaignId { object.field("campaign_id", campaign) }
        if let request = event.requestId { object.field("request_id", request) }
        if let draw = event.drawId { object.field("draw_id", draw) }
    }

    /// `POST /v1/points/rebuild` (admin): rebuilds from `points_ledger` the buckets whose
    /// accounts Redis lost (`PointsRebuild`); nothing when Redis lost nothing. Idempotent.
    func rebuild(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        api.blocking(responder) { context in
            let summary = try PointsRebuild.run(redis: context.redis(), postgres: context.postgres())
            return .json(body: JSONWriter.object {
                $0.field("buckets_rebuilt", summary.buckets)
                $0.field("users_rebuilt", summary.users)
            })
        }
    }

    /// `PUT /v1/campaigns/{id}/points` {points_cost, min_points_balance}: makes the campaign an
    /// exchange campaign. Saved in PostgreSQL, then written to the campaign's Redis meta.
    func setExchange(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else { return responder.respond(APIError.notFound("campaign")) }
        let settings: ExchangeSettings
        do throws(HTTPResponseError) {
            let body = try CheckoutRequest.body(request, allowed: ExchangeSettings.fieldNames)
            do throws(ExchangeSettingsError) {
                guard let decoded = try ExchangeSettings.decode(body) else { throw ExchangeSettingsError("points_cost is required") }
                settings = decoded
            } catch { throw HTTPResponseError(APIError.invalid(error.description)) }
        } catch {
            return responder.respond(error.response)
        }
        api.blocking(responder) { context in
            if let refusal = try CampaignStore.find(id: campaignId, on: context.postgres())?.refusesOnShards("points exchange") {
                return APIError.sharded(refusal)
            }
            guard try PointsStore.saveExchange(campaignId: campaignId, settings: settings, on: context.postgres()) else {
                return APIError.notFound("campaign")
            }
            _ = try context.redis().command(settings.writeCommand(.init(campaignId: campaignId)))
            return .json(
                body: JSONWriter.object {
                    $0.field("campaign_id", campaignId)
                    $0.field("points_cost", settings.pointsCost)
                    $0.field("min_points_balance", settings.minPointsBalance)
                })
        }
    }
}

extension PointsHandlers {
    /// `GET /v1/points/report?from=YYYY-MM-DD&to=YYYY-MM-DD` (roles finance, admin): earned /
    /// spent / refunded / expired / adjusted per UTC day, the outstanding liability and its
    /// expiry schedule, and the conservation check naming offenders. Default: the last 30 days.
    func report(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        func day(_ name: String) -> Int64?? {
            guard let text = request.query[name] else { return .some(nil) }
            guard text.count == 10, let ms = RFC3339.parse(text + "T00:00:00Z") else { return nil }
            return .some(ms)
        }
        guard let from = day("from"), let to = day("to") else {
            return responder.respond(APIError.invalid("from and to must be dates YYYY-MM-DD (UTC)"))
        }
        let toMs = (to ?? (Int64(Date().timeIntervalSince1970 * 1000) / 86_400_000) * 86_400_000) + 86_400_000
        let fromMs = from ?? toMs - 30 * 86_400_000
        guard fromMs < toMs, toMs - fromMs <= 367 * 86_400_000 else {
            return responder.respond(APIError.invalid("from must not be after to, and the period at most 366 days"))
        }
        api.blocking(responder) { context in
            let report = try PointsReport.build(fromMs: fromMs, toMs: toMs, redis: context.redis(), postgres: context.postgres())
            return .json(
                body: JSONWriter.object { object in
                    object.arrayField("days") { array in
                        for day in report.days {
                            array.objectElement {
                                $0.field("day", day.day)
                                $0.field("earned", day.earned)
                                $0.field("spent", day.spent)
                                $0.field("refunded", day.refunded)
                                $0.field("expired", day.expired)
                                $0.field("adjusted", day.adjusted)
                            }
                        }
                    }
                    object.field("outstanding", report.outstanding)
                    object.arrayField("expiry_schedule") { array in
                        for entry in report.expirySchedule {
                            array.objectElement {
                                $0.field("expires_on", entry.day)
                                $0.field("points", entry.points)
                            }
                        }
                    }
                    object.objectField("conservation") {
                        $0.field("users_checked", report.usersChecked)
                        $0.field("ok", report.offenders.isEmpty)
                        $0.arrayField("offenders") { array in for offender in report.offenders.prefix(100) { array.element(offender) } }
                    }
                })
        }
    }
}
