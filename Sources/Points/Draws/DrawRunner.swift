import CouponCore
import Issuance
import RedisClient

/// How a draw attempt ended, as the API answers it.
public enum DrawResult: Sendable, Equatable {
    /// `grant`: the prize coupon (nil: no prize, or a tier without template). `pointsSpent`: the
    /// attempt's cost (0 for a replay or a free draw).
    case drawn(DrawAttempt, grant: Grant?, pointsSpent: Int64, replayed: Bool)
    /// `insufficient_points`, `not_started`, `limit_reached`, `unknown_draw`, `request_conflict`, …;
    /// any points reserved for it were refunded.
    case refused(String)
}

/// Runs one draw attempt on a loop's Redis (issue 11). A paid attempt uses the exchange's
/// reservation protocol, since the balance (`{p:B}`) and the draw (`{d:ID}`) are in different
/// slots: reserve the cost → the draw script decides (recording refusals too, so a replay gives
/// the same answer) → commit, or refund on a refusal. A won attempt's prize coupon is then
/// claimed from the tier's prize campaign (`DrawPrize`) and forgotten in the draw's `prizes`
/// set. A node that dies between steps leaves a pending reservation or a pending prize:
/// `DrawRecovery` (with `ExchangeRecovery`) finishes both within about the recovery grace.
public enum DrawRunner {
    public typealias Completion = (Result<DrawResult, RedisError>) -> Void

    /// The draw's points cost per attempt (0: free) as its meta hash says; nil: unknown draw.
    public static func costCommand(_ drawId: Int64) -> [RedisArgument] { ["HMGET", .string(DrawKeys(drawId: drawId).meta), "pcost", "hash"] }

    static func cost(reply: RESPValue) -> Int64? {
        guard let items = reply.array, items.count == 2, items[1].string != nil else { return nil }
        return items[0].string.flatMap(Int64.init) ?? 0
    }

    public static func run(
        drawId: Int64, userId: String, requestId: String, random: Int64, code: CouponCode, redis: any AsyncRedis, costs: SettingsCache<Int64>,
        onDeferred: @escaping (String, RedisError) -> Void = { _, _ in }, _ completion: @escaping Completion
    ) {
        let attempt = ExchangeRequest(drawId: drawId, userId: userId, requestId: requestId)
        func start(_ cost: Int64?) {
            guard let cost, cost > 0 else {
                return draw(attempt, random: random, cost: 0, code: code, redis: redis, onDeferred: onDeferred, completion)
            }
            Exchange.reserve(attempt, settings: ExchangeSettings(pointsCost: cost, minPointsBalance: 0), redis: redis) { step in
                switch step {
                case .failure(let error): completion(.failure(error))
                case .success(.refused(let refusal)): completion(.success(.refused(refusal)))
                case .success(.proceed): draw(attempt, random: random, cost: cost, code: code, redis: redis, onDeferred: onDeferred, completion)
                }
            }
        }
        if let cached = costs.lookup(drawId) { return start(cached) }
        redis.send(costCommand(drawId)) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                let cost = cost(reply: reply)
                costs.remember(drawId, cost)
                start(cost)
            }
        }
    }

    /// What the reservation's finish must do after the draw decided: commit with the attempt
    /// id, or refund with the refusal.
    public static func finishing(_ decision: DrawAttempt.Decision) -> (commit: Bool, detail: String) {
        switch decision {
        case .drawn(let attempt), .replayed(let attempt): (true, attempt.attemptId)
        case .refused(let code): (false, code)
        }
    }

    private static func draw(
        _ request: ExchangeRequest, random: Int64, cost: Int64, code: CouponCode, redis: any AsyncRedis, onDeferred: @escaping (String, RedisError) -> Void,
        _ completion: @escaping Completion
    ) {
        let drawId = request.drawId ?? 0
        redis.evalScript(
            DrawScript.script, keys: DrawScript.keys(DrawKeys(drawId: drawId), requestId: request.requestId),
            args: DrawScript.arguments(userId: request.userId, requestId: request.requestId, random: random)
        ) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                guard let decision = DrawAttempt.decision(reply: reply, drawId: drawId, userId: request.userId, requestId: request.requestId) else {
                    return completion(.failure(.protocolError("unexpected draw reply \(reply)")))
                }
                if cost > 0 {
                    // The decision is durable: settling the points can go on while the prize is claimed.
                    let (commit, detail) = finishing(decision)
                    let call = Exchange.finishCall(request, commit: commit, detail: detail)
                    redis.evalScript(PointsScripts.finish, keys: call.keys, args: call.args) { result in
                        if case .failure(let error) = result { onDeferred("draw_finish_deferred", error) }
                    }
                }
                switch decision {
                case .refused(let code): completion(.success(.refused(code)))
                case .drawn(let attempt), .replayed(let attempt):
                    let replayed = if case .replayed = decision { true } else { false }
                    let spent = replayed ? 0 : cost
                    guard let campaignId = attempt.prizeCampaignId else {
                        return completion(.success(.drawn(attempt, grant: nil, pointsSpent: spent, replayed: replayed)))
                    }
                    grantPrize(attempt, campaignId: campaignId, code: code, redis: redis) { result in
                        switch result {
                        case .failure(let error): completion(.failure(error))
                        case .success(let grant): completion(.success(.drawn(attempt, grant: grant, pointsSpent: spent, replayed: replayed)))
                        }
                    }
                }
            }
        }
    }

    /// Claims the prize; nil when the claim was refused (it stays pending and is retried).
    static func grantPrize(
        _ attempt: DrawAttempt, campaignId: Int64, code: CouponCode, redis: any AsyncRedis, _ completion: @escaping (Result<Grant?, RedisError>) -> Void
    ) {
        redis.evalScript(DrawPrize.script, keys: DrawPrize.keys(campaignId: campaignId), args: DrawPrize.arguments(attempt, code: code)) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                switch ClaimDecision(reply: reply, campaignId: campaignId, userId: attempt.userId, requestId: attempt.prizeRequestId) {
                case .granted(let grant)?, .replayed(let grant)?:
                    redis.send(DrawPrize.grantedCommand(attempt)) { _ in }
                    completion(.success(grant))
                case .some: completion(.success(nil))
                case nil: completion(.failure(.protocolError("unexpected prize reply \(reply)")))
                }
            }
        }
    }
}
