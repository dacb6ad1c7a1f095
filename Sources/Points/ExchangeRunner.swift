import CouponCore
import Issuance
import RedisClient

/// Runs the steps of one exchange (see `Exchange`) on a loop's Redis connection. A failure of
/// any step (Redis unreachable, timeout) completes with the error and leaves the reservation
/// pending: `ExchangeRecovery` finishes it. The completion runs on the connection's loop.
public enum ExchangeRunner {
    public typealias Completion = (Result<ExchangeResult, RedisError>) -> Void

    public static func run(_ request: ExchangeRequest, code: CouponCode, redis: any AsyncRedis, _ completion: @escaping Completion) {
        redis.send(ExchangeSettings.readCommand(request.campaignKeys)) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                guard let settings = ExchangeSettings(reply: reply) else { return completion(.success(.refused("not_exchange"))) }
                reserve(request, settings: settings, code: code, redis: redis, completion)
            }
        }
    }

    private static func reserve(
        _ request: ExchangeRequest, settings: ExchangeSettings, code: CouponCode, redis: any AsyncRedis, _ completion: @escaping Completion
    ) {
        let call = Exchange.reserveCall(request, settings: settings)
        redis.evalScript(PointsScripts.reserve, keys: call.keys, args: call.args) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                switch ReserveOutcome(reply: reply) {
                case .refused(let refusal, _): completion(.success(.refused(refusal)))
                case .exists(state: "refunded", let reason): completion(.success(.refused(reason)))
                case .reserved, .exists:
                    // New, still pending (a retry racing the first attempt or the sweep), or committed
                    // (the claim replays the grant): the claim step answers, finishing is idempotent.
                    claim(request, cost: settings.pointsCost, code: code, redis: redis, completion)
                case nil: completion(.failure(.protocolError("unexpected reserve reply \(reply)")))
                }
            }
        }
    }

    private static func claim(_ request: ExchangeRequest, cost: Int64, code: CouponCode, redis: any AsyncRedis, _ completion: @escaping Completion) {
        redis.evalScript(
            ExchangeClaimScript.script,
            keys: ExchangeClaimScript.keys(request.campaignKeys, userId: request.userId, requestId: request.requestId),
            args: ExchangeClaimScript.arguments(userId: request.userId, requestId: request.requestId, code: code, tags: request.tags)
        ) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                guard let decision = ClaimDecision(reply: reply, campaignId: request.campaignId, userId: request.userId, requestId: request.requestId)
                else { return completion(.failure(.protocolError("unexpected claim reply \(reply)"))) }
                let (commit, detail) = Exchange.finishing(decision)
                let call = Exchange.finishCall(request, commit: commit, detail: detail)
                redis.evalScript(PointsScripts.finish, keys: call.keys, args: call.args) { result in
                    switch result {
                    case .failure(let error): completion(.failure(error))
                    case .success:
                        switch decision {
                        case .granted(let grant): completion(.success(.granted(grant, pointsSpent: cost)))
                        case .replayed(let grant): completion(.success(.replayed(grant)))
                        default: completion(.success(.refused(detail)))
                        }
                    }
                }
            }
        }
    }
}
