/// The delivery policy (issue 12), pure: how many outbox rows a node may have in flight and
/// for which subscription, and what becomes of a row after an attempt. No sockets, no clock:
/// the deliverer passes the time (monotonic seconds) and each row's age in, and
/// `WebhookDispatchTests` drive it directly.
///
/// - At most `concurrency` POSTs in flight per node. A healthy endpoint may take all but one
///   slot (`concurrency - 1`, at least 1), so one endpoint never holds every worker.
/// - An endpoint whose last attempt failed is `failing`: nothing is sent to it for
///   `retryDelayMs(failures - 1)` (500 ms doubling up to the max backoff), then one POST at a
///   time (a probe) until a 2xx. A dead or hanging receiver ties up at most one worker, and a
///   backlog for it costs one attempt per pause, not one per row. POSTs that were already in
///   flight and fail within a pause are the same incident: they do not lengthen it.
/// - A failed row is retried after `retryDelayMs` unless it has had `maxAttempts` attempts or
///   was queued more than `maxAgeSeconds` ago: then it is `dead` (kept, listed, retryable by
///   an admin; it no longer holds back its subject's later rows).
public struct WebhookDispatch: Sendable {
    public struct Limits: Sendable, Equatable {
        public var concurrency: Int
        public var maxAttempts: Int
        public var maxAgeSeconds: Double
        public var maxBackoffMs: Int64

        public init(concurrency: Int = 8, maxAttempts: Int = 100, maxAgeSeconds: Double = 86_400, maxBackoffMs: Int64 = 60_000) {
            self.concurrency = max(1, concurrency)
            self.maxAttempts = max(1, maxAttempts)
            self.maxAgeSeconds = maxAgeSeconds
            self.maxBackoffMs = maxBackoffMs
        }
    }

    /// One subscription's endpoint as this node sees it; each state carries its in-flight count.
    public enum Endpoint: Sendable, Equatable {
        case healthy(inFlight: Int)
        case failing(inFlight: Int, failures: Int, pausedUntil: Double)

        var inFlight: Int {
            switch self {
            case .healthy(let count), .failing(let count, _, _): count
            }
        }
    }

    /// How an attempt ended: a 2xx, or anything else (status, refused, timeout) with a reason.
    public enum Outcome: Sendable, Equatable {
        case accepted
        case rejected(String)
    }

    /// What to write to the row.
    public enum Settlement: Sendable, Equatable {
        case delivered
        case retry(afterMs: Int64, error: String)
        case dead(error: String)
    }

    /// What may be leased now: `total` rows at most, `perSubscription` each unless `overrides`
    /// names the subscription (failing endpoints, endpoints with rows in flight).
    public struct Allowance: Sendable, Equatable {
        public var total: Int
        public var perSubscription: Int
        public var overrides: [Int64: Int]

        public init(total: Int, perSubscription: Int, overrides: [Int64: Int]) {
            self.total = total
            self.perSubscription = perSubscription
            self.overrides = overrides
        }
    }

    public let limits: Limits
    public private(set) var endpoints: [Int64: Endpoint] = [:]
    /// Rows in flight: delivery id → subscription id.
    public private(set) var inFlight: [Int64: Int64] = [:]

    public init(limits: Limits) { self.limits = limits }

    /// 500 ms after the first failure, doubling per attempt, at most `maxMs`.
    public static func retryDelayMs(attempts: Int, maxMs: Int64) -> Int64 {
        min(maxMs, 500 << Int64(min(max(attempts, 0), 20)))
    }

    var healthyCap: Int { max(1, limits.concurrency - 1) }

    public func allowance(now: Double) -> Allowance {
        var overrides: [Int64: Int] = [:]
        for (subscription, endpoint) in endpoints {
            switch endpoint {
            case .healthy(let count): overrides[subscription] = max(0, healthyCap - count)
            case .failing(let count, _, let until): overrides[subscription] = now < until ? 0 : max(0, 1 - count)
            }
        }
        return Allowance(total: max(0, limits.concurrency - inFlight.count), perSubscription: healthyCap, overrides: overrides)
    }

    /// A leased row handed to a worker. False (and nothing recorded) when the allowance is
    /// exceeded or the row is already in flight: the caller gives the lease back.
    public mutating func start(delivery id: Int64, subscription: Int64, now: Double) -> Bool {
        guard inFlight[id] == nil, inFlight.count < limits.concurrency else { return false }
        let endpoint = endpoints[subscription] ?? .healthy(inFlight: 0)
        switch endpoint {
        case .healthy(let count):
            guard count < healthyCap else { return false }
            endpoints[subscription] = .healthy(inFlight: count + 1)
        case .failing(let count, let failures, let until):
            guard count < 1, now >= until else { return false }
            endpoints[subscription] = .failing(inFlight: count + 1, failures: failures, pausedUntil: until)
        }
        inFlight[id] = subscription
        return true
    }

    /// An attempt ended. `attempts` counts earlier attempts of the row, `ageSeconds` is how long
    /// ago it was queued (or re-queued from dead).
    public mutating func finish(delivery id: Int64, attempts: Int, ageSeconds: Double, outcome: Outcome, now: Double) -> Settlement {
        if let subscription = inFlight.removeValue(forKey: id) {
            let count = max(0, (endpoints[subscription]?.inFlight ?? 1) - 1)
            switch (endpoints[subscription] ?? .healthy(inFlight: 0), outcome) {
            case (_, .accepted):
                endpoints[subscription] = count == 0 ? nil : .healthy(inFlight: count)
            case (.healthy, .rejected):
                endpoints[subscription] = .failing(inFlight: count, failures: 1, pausedUntil: now + pause(failures: 1))
            case (.failing(_, let failures, let until), .rejected) where now < until:
                // A POST started before the endpoint failed, ending within the pause: the same
                // incident, so the pause does not grow (8 timeouts at once are one failure).
                endpoints[subscription] = .failing(inFlight: count, failures: failures, pausedUntil: until)
            case (.failing(_, let failures, _), .rejected):
                endpoints[subscription] = .failing(inFlight: count, failures: failures + 1, pausedUntil: now + pause(failures: failures + 1))
            }
        }
        return Self.settle(attempts: attempts, ageSeconds: ageSeconds, outcome: outcome, limits: limits)
    }

    /// Seconds without attempts to an endpoint after its `failures`-th failure in a row.
    func pause(failures: Int) -> Double {
        Double(Self.retryDelayMs(attempts: failures - 1, maxMs: limits.maxBackoffMs)) / 1000
    }

    /// The row's fate after an attempt, independent of any endpoint state.
    public static func settle(attempts: Int, ageSeconds: Double, outcome: Outcome, limits: Limits) -> Settlement {
        guard case .rejected(let error) = outcome else { return .delivered }
        if attempts + 1 >= limits.maxAttempts {
            return .dead(error: "\(error) (after \(attempts + 1) attempts)")
        }
        if ageSeconds >= limits.maxAgeSeconds {
            return .dead(error: "\(error) (queued \(Int(ageSeconds)) s ago)")
        }
        return .retry(afterMs: retryDelayMs(attempts: attempts, maxMs: limits.maxBackoffMs), error: error)
    }
}
