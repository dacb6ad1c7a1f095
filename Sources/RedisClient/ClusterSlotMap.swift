/// Which master owns each of the 16384 hash slots, as last learned from `CLUSTER SLOTS` and
/// `MOVED` replies. A value type: routers keep one and replace it on refresh.
public struct ClusterSlotMap: Sendable, Equatable {
    /// Owner per slot; nil where the cluster reported no owner.
    private var owners: [RedisEndpoint?]

    /// An empty map (every slot unknown).
    public init() { owners = Array(repeating: nil, count: RedisClusterSlot.count) }

    /// `ranges` are inclusive `(first, last, master)` triples.
    public init(ranges: [(first: Int, last: Int, master: RedisEndpoint)]) {
        self.init()
        for range in ranges where range.first <= range.last && range.first >= 0 && range.last < RedisClusterSlot.count {
            for slot in range.first...range.last { owners[slot] = range.master }
        }
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[first, last, [host, port, id, ...], replicas...], ...]`.
    /// An empty host (the node does not know its address) means the node that answered: `answeredBy`.
    /// Nil when the reply is not one.
    public init?(clusterSlots reply: RESPValue, answeredBy: RedisEndpoint) {
        guard let entries = reply.array else { return nil }
        var ranges: [(first: Int, last: Int, master: RedisEndpoint)] = []
        for entry in entries {
            guard let parts = entry.array, parts.count >= 3, let first = parts[0].int, let last = parts[1].int,
                let master = parts[2].array, master.count >= 2, let host = master[0].string, let port = master[1].int
            else { return nil }
            var endpoint = RedisEndpoint.tcp(host: host, port: Int(port))
            if host.isEmpty, case .tcp(let seedHost, _) = answeredBy { endpoint = .tcp(host: seedHost, port: Int(port)) }
            ranges.append((Int(first), Int(last), endpoint))
        }
        self.init(ranges: ranges)
    }

    public func owner(ofSlot slot: Int) -> RedisEndpoint? {
        guard slot >= 0 && slot < owners.count else { return nil }
        return owners[slot]
    }

    /// Records a `MOVED` answer: `slot` now lives on `master`.
    public mutating func assign(slot: Int, to master: RedisEndpoint) {
        guard slot >= 0 && slot < owners.count else { return }
        owners[slot] = master
    }

    /// Every master that owns at least one slot, in a stable order.
    public var masters: [RedisEndpoint] {
        var seen = Set<RedisEndpoint>()
        var result: [RedisEndpoint] = []
        for case let owner? in owners where seen.insert(owner).inserted { result.append(owner) }
        return result.sorted { $0.description < $1.description }
    }

    /// True when every slot has an owner.
    public var isComplete: Bool { !owners.contains(nil) }
}
