import CouponCore
import EventLoop
import Foundation
import HTTPServer
import Points
import RedisClient

/// Prize draws (抽奖, issue 11): create, attempt, and read an attempt with what recomputes it.
/// The decision is `DrawScript`'s; the rule is `DrawTable`'s.
struct DrawHandlers {
    let api: API

    /// Draw attempts' points costs as this node last read them (`DrawRunner`).
    let costs = SettingsCache<Int64>()

    /// `POST /v1/draws` (admin) {name, claim_start, claim_end, attempt_limit, points_cost?, no_prize_weight, tiers}
    func create(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let name: String, start: Int64, end: Int64, limit: Int64, table: DrawTable, cost: Int64
        do throws(HTTPResponseError) {
            let body = try CheckoutRequest.body(
                request, allowed: ["name", "claim_start", "claim_end", "attempt_limit", "points_cost", "no_prize_weight", "tiers"])
            guard let text = body["name"]?.stringValue, !text.isEmpty, text.count <= 200 else {
                throw HTTPResponseError(APIError.invalid("name is required: 1 to 200 characters"))
            }
            guard let from = body["claim_start"]?.stringValue.flatMap(RFC3339.parse), let until = body["claim_end"]?.stringValue.flatMap(RFC3339.parse),
                from < until
            else { throw HTTPResponseError(APIError.invalid("claim_start and claim_end must be RFC 3339 times, start before end")) }
            guard let attempts = body["attempt_limit"]?.int64Value, (1...1_000).contains(attempts) else {
                throw HTTPResponseError(APIError.invalid("attempt_limit must be an integer from 1 to 1000"))
            }
            do { table = try DrawTable(json: body) } catch { throw HTTPResponseError(APIError.invalid(error.description)) }
            let points = body["points_cost"]?.int64Value ?? 0
            guard (0...PointsHandlers.maxPoints).contains(points), body["points_cost"].map({ $0.isNull || $0.int64Value != nil }) ?? true else {
                throw HTTPResponseError(APIError.invalid("points_cost must be an integer from 0 to \(PointsHandlers.maxPoints)"))
            }
            (name, start, end, limit, cost) = (text, from, until, attempts, points)
        } catch {
            return responder.respond(error.response)
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            let draw: Draw
            do {
                draw = try DrawStore.create(name: name, startMs: start, endMs: end, attemptLimit: limit, table: table, pointsCost: cost, on: postgres)
            } catch let error as DrawStoreError {
                return APIError.invalid(error.description)
            }
            try DrawStore.publish(draw, on: postgres, redis: context.redis())
            return .json(status: 201, body: JSONWriter.object { Self.drawFields(draw, into: &$0) })
        }
    }

    static func drawFields(_ draw: Draw, into object: inout JSONObjectWriter) {
        object.field("id", draw.id)
        object.field("name", draw.name)
        object.field("claim_start", RFC3339.format(epochMs: draw.startMs))
        object.field("claim_end", RFC3339.format(epochMs: draw.endMs))
        object.field("attempt_limit", draw.attemptLimit)
        object.field("points_cost", draw.pointsCost)
        object.field("prize_campaigns", JSONValue.array(draw.prizeCampaigns.map { $0 > 0 ? .int($0) : .null }))
        object.field("prize_table", draw.table.json)
        object.field("table_hash", draw.table.versionHash)
        object.field("total_weight", draw.table.totalWeight)
    }

    /// `POST /v1/draws/{id}/attempts` (issue) {user_id, request_id}: one attempt, on the loop.
    func attempt(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let drawId = parameters.resourceID("id"), drawId > 0 else { return responder.respond(APIError.notFound("draw")) }
        let userId: String, requestId: String
        do throws(HTTPResponseError) {
            let body = try CheckoutRequest.body(request, allowed: ["user_id", "request_id"])
            userId = try CheckoutRequest.identifier(body, "user_id")
            requestId = try CheckoutRequest.identifier(body, "request_id")
        } catch {
            return responder.respond(error.response)
        }
        guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
        let engine = api.engine(on: loop)
        var generator = engine.codeGenerator
        let random = DrawTable.random(using: &generator)
        let logger = api.logger
        DrawRunner.run(
            drawId: drawId, userId: userId, requestId: requestId, random: random, code: engine.codeGenerator.code(), redis: api.redis(on: loop),
            costs: costs, onDeferred: { event, error in logger.warning(event, ["error": "\(error)", "request_id": requestId]) }
        ) { [api] result in
            switch result {
            case .failure(let error):
                // A pending reservation or prize is finished by the recovery sweep; a retry replays.
                responder.respond(error.isUnavailable ? APIError.unavailable("Redis") : APIError.backend(error))
            case .success(.drawn(let attempt, let grant, let spent, _)):
                responder.respond(.json(status: 201, body: JSONWriter.object {
                    Self.attemptFields(attempt, table: nil, into: &$0)
                    $0.field("points_spent", spent)
                    if let grant {
                        $0.objectField("prize") { ClaimHandler.grantFields(grant, into: &$0) }
                    }
                }))
                if let grant { api.engine(on: loop).recordGrantHints(grant) }
            case .success(.refused(let code)):
                switch code {
                case "unknown_draw": responder.respond(APIError.notFound("draw"))
                case "points_unavailable": responder.respond(PointsHandlers.pointsUnavailable)
                case "request_conflict":
                    responder.respond(.error(status: 422, code: "idempotency_conflict", message: "request_id was already used by another user for this draw"))
                case "insufficient_points":
                    responder.respond(.error(status: 409, code: code, message: "the user's balance is less than the draw's points cost per attempt"))
                default:
                    responder.respond(.error(status: 409, code: code, message: "the draw refused the attempt: \(code) (no points were spent)"))
                }
            }
        }
    }

    /// `GET /v1/draws/{id}` with a draw id: the draw and its figures (`DrawStats`).
    func stats(_ drawId: Int64, _ responder: Responder) {
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard let draw = try DrawStore.draw(id: drawId, on: postgres) else { return APIError.notFound("draw") }
            let stats = try DrawStats.read(draw, redis: context.redis(), postgres: postgres)
            return .json(body: JSONWriter.object { object in
                Self.drawFields(draw, into: &object)
                object.objectField("stats") { figures in
                    figures.field("attempts", stats.attempts)
                    figures.field("points_consumed", stats.pointsConsumed)
                    figures.field("no_prize", stats.noPrize)
                    if let rate = stats.winRate { figures.field("win_rate", rate) } else { figures.nullField("win_rate") }
                    figures.arrayField("tiers") { list in
                        for tier in stats.tiers {
                            list.objectElement {
                                $0.field("name", tier.name)
                                $0.field("stock", tier.stock)
                                $0.field("left", tier.left)
                                $0.field("won", tier.won)
                                if let id = tier.prizeCampaignId { $0.field("prize_campaign_id", id) } else { $0.nullField("prize_campaign_id") }
                                $0.field("coupons", tier.coupons)
                            }
                        }
                    }
                }
            })
        }
    }

    static func attemptFields(_ attempt: DrawAttempt, table: DrawTable?, into object: inout JSONObjectWriter) {
        object.field("attempt_id", attempt.attemptId)
        object.field("draw_id", attempt.drawId)
        object.field("user_id", attempt.userId)
        object.field("request_id", attempt.requestId)
        object.field("random", attempt.random)
        object.field("table_hash", attempt.tableHash)
        object.field("selected_tier", attempt.selectedTier)
        object.field("outcome_tier", attempt.outcomeTier)
        object.field("won", attempt.outcomeTier > 0)
        object.field("at", RFC3339.format(epochMs: attempt.atMs))
        if let campaign = attempt.prizeCampaignId {
            object.field("prize_campaign_id", campaign)
            object.field("prize_request_id", attempt.prizeRequestId)
        }
        if let table {
            object.field("prize_table", table.json)
            object.field("total_weight", table.totalWeight)
            object.field("recomputed_tier", table.select(random: attempt.random))
            object.field("rule", "pick = random mod total_weight; the first tier whose cumulative weight exceeds pick, else 0 (no prize); a selected tier with no stock left is recorded with outcome_tier 0")
        }
    }

    /// `GET /v1/draws/{id}` with an attempt id `<draw>-<stream id>` (the issue's `{attempt_id}`; the router names the segment `id`) (issue, admin, finance): the recorded attempt, its table and
    /// the tier recomputed from its random value.
    func get(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        if let drawId = parameters.resourceID("id") { return stats(drawId, responder) }
        guard let attemptId = parameters["id"], attemptId.count <= 64,
            let dash = attemptId.firstIndex(of: "-"), let drawId = Int64(attemptId[..<dash]), drawId > 0
        else { return responder.respond(APIError.notFound("draw attempt")) }
        let streamId = String(attemptId[attemptId.index(after: dash)...])
        guard streamId.split(separator: "-").count == 2, streamId.split(separator: "-").allSatisfy({ Int64($0) != nil }) else {
            return responder.respond(APIError.notFound("draw attempt"))
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            var attempt = try DrawStore.attempt(attemptId, on: postgres)
            if attempt == nil {  // not flushed yet: the draw's stream has it
                let reply = try context.redis().command(["XRANGE", .string(DrawKeys(drawId: drawId).attempts), .string(streamId), .string(streamId)])
                if let entry = reply.array?.first?.array, entry.count == 2 {
                    let fields = RESPValue.fieldMap(entry[1].array ?? [])
                    attempt = DrawAttempt(drawId: drawId, streamId: streamId, fields: fields)
                }
            }
            guard let recorded = attempt, let draw = try DrawStore.draw(id: drawId, on: postgres) else { return APIError.notFound("draw attempt") }
            let (withPrize, code) = try DrawStore.prize(of: recorded, in: draw, on: postgres)
            return .json(body: JSONWriter.object {
                Self.attemptFields(withPrize, table: draw.table, into: &$0)
                if let code { $0.field("prize_code", code) }
            })
        }
    }
}
