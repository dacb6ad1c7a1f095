/// How hard a cluster router tries before handing an error to the caller.
public struct ClusterRetryPolicy: Sendable, Equatable {
    /// `MOVED` / `ASK` redirections followed per command.
    public var maxRedirects: Int
    /// Retries after `TRYAGAIN`, `CLUSTERDOWN`, or an unreachable master (nothing was sent).
    public var maxRetries: Int
    /// Delay before retry n (1-based): `baseDelayMs · 2^(n-1)`, at most `maxDelayMs`.
    public var baseDelayMs: Int
    public var maxDelayMs: Int

    /// Defaults: 5 redirects between retries; 80 retries at 2, 4, 8, ... 100 ms, about 7.7 s in
    /// all — longer than moving one campaign's slot in batches of 100 keys (10,000 keys: 2–3 s
    /// here under load), so a claim waits out a migration instead of failing.
    public init(maxRedirects: Int = 5, maxRetries: Int = 80, baseDelayMs: Int = 2, maxDelayMs: Int = 100) {
        self.maxRedirects = maxRedirects
        self.maxRetries = maxRetries
        self.baseDelayMs = baseDelayMs
        self.maxDelayMs = maxDelayMs
    }

    public func delayMs(beforeRetry retry: Int) -> Int {
        let shift = min(max(retry - 1, 0), 20)
        return min(maxDelayMs, baseDelayMs << shift)
    }
}

/// What to do with a command's reply on Redis Cluster.
public enum ClusterStep: Sendable, Equatable {
    /// Hand the result to the caller.
    case deliver
    /// Send the command again after `afterMs`: to `node`, or (nil) to whichever master the map
    /// names for the slot at that moment; with `asking`, preceded by `ASKING` on that connection.
    case resend(node: RedisEndpoint?, asking: Bool, afterMs: Int)
}

/// The decision for one reply, and whether the router should reload the slot map.
public struct ClusterDecision: Sendable, Equatable {
    public var step: ClusterStep
    public var refreshMap: Bool

    public init(_ step: ClusterStep, refreshMap: Bool = false) {
        self.step = step
        self.refreshMap = refreshMap
    }
}

/// The redirection state machine of one command on Redis Cluster. Pure: the routers (async
/// and blocking) own the sockets and the timers, this decides.
///
/// Rules — and why a claim never runs twice because of them: every reply it retries is one
/// where the server did not run the command.
/// - `MOVED slot node`: the slot lives elsewhere for good. Update the map, resend there, reload the map.
/// - `ASK slot node`: the slot is being migrated and this key is already on `node`. Resend there
///   once preceded by `ASKING`; the map is not changed.
/// - `TRYAGAIN` (a multi-key command during a migration) and `CLUSTERDOWN`: resend to the map's
///   owner after a backoff; `CLUSTERDOWN` also reloads the map.
/// - Not connected / connect failed (a master that vanished; nothing was sent): reload the map
///   and resend to whichever master it then names, after a backoff.
/// - Connection lost or timed out after sending: the command may have run. Deliver the error
///   (the caller retries with the same request id, which is idempotent) and reload the map.
/// - Ran but not confirmed by enough replicas (`WAIT`, `ReplicaWait`): deliver and reload the map.
/// - Anything else, success included: deliver.
/// Redirects and retries are bounded by `ClusterRetryPolicy`; past the bound the error is delivered.
/// The redirect bound counts redirects since the last retry: during a migration a claim cycles
/// ASK (source) → TRYAGAIN (target, the request key is not there yet) → back to the source, and
/// it is the retries, with their backoff, that bound such a cycle.
public struct ClusterCommandRouting: Sendable, Equatable {
    public let slot: Int?
    public let policy: ClusterRetryPolicy
    public private(set) var redirects = 0
    public private(set) var retries = 0

    public init(slot: Int?, policy: ClusterRetryPolicy = ClusterRetryPolicy()) {
        self.slot = slot
        self.policy = policy
    }

    /// Where to send when the map decides: the slot's owner, or any master for keyless
    /// commands and unknown slots (a wrong guess costs one `MOVED`).
    public func target(in map: ClusterSlotMap) -> RedisEndpoint? {
        if let slot, let owner = map.owner(ofSlot: slot) { return owner }
        return map.masters.first
    }

    public mutating func next(after result: Result<RESPValue, RedisError>, map: inout ClusterSlotMap) -> ClusterDecision {
        switch result {
        case .success:
            return ClusterDecision(.deliver)
        case .failure(.server(let error)):
            switch error.prefix {
            case .moved:
                guard let (slot, host, port) = error.redirection else { return ClusterDecision(.deliver) }
                let node = RedisEndpoint.tcp(host: host, port: port)
                map.assign(slot: slot, to: node)
                return redirect(to: node, asking: false, refreshMap: true)
            case .ask:
                guard let (_, host, port) = error.redirection else { return ClusterDecision(.deliver) }
                return redirect(to: .tcp(host: host, port: port), asking: true, refreshMap: false)
            case .tryagain:
                return retry(refreshMap: false)
            case .clusterdown:
                return retry(refreshMap: true)
            default:
                return ClusterDecision(.deliver)
            }
        case .failure(.notConnected), .failure(.connectFailed):
            return retry(refreshMap: true)
        case .failure(.connectionLost), .failure(.timeout):
            return ClusterDecision(.deliver, refreshMap: true)
        case .failure(.protocolError):
            return ClusterDecision(.deliver)
        case .failure(.unconfirmed):
            // It ran; its replicas lag or a failover is under way: deliver (503) and reload the map.
            return ClusterDecision(.deliver, refreshMap: true)
        }
    }

    private mutating func redirect(to node: RedisEndpoint, asking: Bool, refreshMap: Bool) -> ClusterDecision {
        redirects += 1
        guard redirects <= policy.maxRedirects else { return ClusterDecision(.deliver, refreshMap: refreshMap) }
        return ClusterDecision(.resend(node: node, asking: asking, afterMs: 0), refreshMap: refreshMap)
    }

    private mutating func retry(refreshMap: Bool) -> ClusterDecision {
        retries += 1
        redirects = 0
        guard retries <= policy.maxRetries else { return ClusterDecision(.deliver, refreshMap: refreshMap) }
        return ClusterDecision(.resend(node: nil, asking: false, afterMs: policy.delayMs(beforeRetry: retries)), refreshMap: refreshMap)
    }
}
