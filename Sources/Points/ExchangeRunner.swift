import CouponCore
import Issuance
import Dispatch
import RedisClient
import Synchronization

/// Runs the steps of one exchange (see `Exchange`) on a loop's Redis connection. A failure of
/// any step (Redis unreachable, timeout) completes with the error and leaves the reservation
/// pending: `ExchangeRecovery` finishes it. The completion runs on the connection's loop.
public enum ExchangeRunner {
    public typealias Completion = (Result<ExchangeResult, RedisError>) -> Void

    public static func run(
        _ request: ExchangeRequest, code: CouponCode, redis: any AsyncRedis, settings cache: ExchangeSettingsCache,
        onFinishFailure: @escaping (RedisError) -> Void = { _ in }, _ completion: @escaping Completion
    ) {
        if let cached = cache.lookup(request.campaignId) {
            guard let settings = cached, settings.prizeOfDraw == nil else { return completion(.success(.refused("not_exchange"))) }
            return reserve(request, settings: settings, code: code, redis: redis, onFinishFailure: onFinishFailure, completion)
        }
        redis.send(ExchangeSettings.readCommand(request.campaignKeys)) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                let settings = ExchangeSettings(reply: reply)
                cache.remember(request.campaignId, settings)
                guard let settings, settings.prizeOfDraw == nil else { return completion(.success(.refused("not_exchange"))) }
                reserve(request, settings: settings, code: code, redis: redis, onFinishFailure: onFinishFailure, completion)
            }
        }
    }

    private static func reserve(
        _ request: ExchangeRequest, settings: ExchangeSettings, code: CouponCode, redis: any AsyncRedis,
        onFinishFailure: @escaping (RedisError) -> Void, _ completion: @escaping Completion
    ) {
        Exchange.reserve(request, settings: settings, redis: redis) { step in
            switch step {
            case .failure(let error): completion(.failure(error))
            case .success(.refused(let refusal)): completion(.success(.refused(refusal)))
            case .success(.proceed):
                // New, still pending (a retry racing the first attempt or the sweep), or committed
                // (the claim replays the grant): the claim step answers, finishing is idempotent.
                claim(request, cost: settings.pointsCost, code: code, redis: redis, onFinishFailure: onFinishFailure, completion)
            }
        }
    }

    /// Steps 2 and 3. The answer goes out as soon as step 2 has decided: both the spend and the
    /// decision are durable by then, and step 3 only settles them (commit, or the refund), which
    /// the recovery sweep does if this node dies first. So an exchange waits for two Redis writes,
    /// not three; a balance read right after a refused exchange may not show the refund for a
    /// few milliseconds.
    private static func claim(
        _ request: ExchangeRequest, cost: Int64, code: CouponCode, redis: any AsyncRedis, onFinishFailure: @escaping (RedisError) -> Void,
        _ completion: @escaping Completion
    ) {
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
                switch decision {
                case .granted(let grant): completion(.success(.granted(grant, pointsSpent: cost)))
                case .replayed(let grant): completion(.success(.replayed(grant)))
                default: completion(.success(.refused(detail)))
                }
                let call = Exchange.finishCall(request, commit: commit, detail: detail)
                redis.evalScript(PointsScripts.finish, keys: call.keys, args: call.args) { result in
                    if case .failure(let error) = result { onFinishFailure(error) }
                }
            }
        }
    }
}

/// Settings per campaign or draw as this node last read them from Redis (nil: none), kept
/// `ttlNanos` (1 s): a changed cost or a new exchange campaign is seen within it.
public final class SettingsCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[Int64: (settings: Value?, expires: UInt64)]>([:])
    private let ttlNanos: UInt64

    public init(ttlNanos: UInt64 = 1_000_000_000) { self.ttlNanos = ttlNanos }

    /// `.some(settings)` when fresh (settings nil: none), nil when unknown.
    public func lookup(_ id: Int64) -> Value?? {
        let now = DispatchTime.now().uptimeNanoseconds
        return entries.withLock { table in
            guard let entry = table[id], entry.expires > now else { return nil }
            return .some(entry.settings)
        }
    }

    public func remember(_ id: Int64, _ settings: Value?) {
        let expires = DispatchTime.now().uptimeNanoseconds + ttlNanos
        entries.withLock { table in
            if table.count > 100_000 { table.removeAll() }  // bounded: campaigns are far fewer
            table[id] = (settings, expires)
        }
    }
}

/// Exchange settings per campaign (nil: not an exchange campaign).
public typealias ExchangeSettingsCache = SettingsCache<ExchangeSettings>
