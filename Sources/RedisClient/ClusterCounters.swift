import Synchronization

/// What the cluster routers of one node did, for metrics: redirections followed, retries, map
/// reloads. Shared by every loop's router; bumping a counter is one relaxed atomic add.
public final class ClusterCounters: Sendable {
    public let moved = Atomic<Int>(0)
    public let ask = Atomic<Int>(0)
    public let tryAgain = Atomic<Int>(0)
    public let clusterDown = Atomic<Int>(0)
    /// Resends because a master was unreachable (nothing had been sent).
    public let unreachable = Atomic<Int>(0)
    public let mapRefreshes = Atomic<Int>(0)

    public init() {}

    /// Counts the redirection or retry `result` caused (nothing for other replies).
    func count(_ result: Result<RESPValue, RedisError>) {
        switch result {
        case .failure(.server(let error)):
            switch error.prefix {
            case .moved: moved.add(1, ordering: .relaxed)
            case .ask: ask.add(1, ordering: .relaxed)
            case .tryagain: tryAgain.add(1, ordering: .relaxed)
            case .clusterdown: clusterDown.add(1, ordering: .relaxed)
            default: break
            }
        case .failure(.notConnected), .failure(.connectFailed): unreachable.add(1, ordering: .relaxed)
        default: break
        }
    }

    /// `(kind, count)` pairs in a fixed order, for `/metrics`.
    public var snapshot: [(kind: String, count: Int)] {
        [
            ("moved", moved.load(ordering: .relaxed)), ("ask", ask.load(ordering: .relaxed)),
            ("tryagain", tryAgain.load(ordering: .relaxed)), ("clusterdown", clusterDown.load(ordering: .relaxed)),
            ("unreachable", unreachable.load(ordering: .relaxed)),
        ]
    }
}
