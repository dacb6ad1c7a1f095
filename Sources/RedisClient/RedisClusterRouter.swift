import EventLoop

/// Redis Cluster as one event loop sees it: one auto-pipelined `RedisConnection` per master on
/// this loop, each command sent to the master owning its first key's slot, redirections
/// followed by `ClusterCommandRouting`. It conforms to `AsyncRedis`, so the claim path runs on
/// a cluster unchanged. Confined to `loop` like the connections it owns.
public final class RedisClusterRouter: AsyncRedis, @unchecked Sendable {  // every mutable field is confined to `loop`
    public let loop: EventLoop
    public let options: RedisConnectionOptions
    public let policy: ClusterRetryPolicy
    private let seeds: [RedisEndpoint]
    private let refreshMs: Int
    /// Redirections, retries and map reloads, shared with the node's metrics.
    public let counters: ClusterCounters
    private(set) public var map: ClusterSlotMap
    private var nodes: [RedisEndpoint: RedisConnection] = [:]
    private var refreshing = false
    private var seedCursor = -1
    private var lastRefresh: UInt64 = 0
    private var refreshTimer: TimerID?
    private var closed = false
    /// Map reloads done (for tests and metrics).
    public private(set) var refreshes = 0

    /// `map` is the slot map loaded at start (`ClusterSlotMap.load`); `refreshSeconds` is the
    /// period of the background reload (redirections also trigger one, at most every 100 ms).
    public init(
        seeds: [RedisEndpoint], map: ClusterSlotMap, loop: EventLoop, options: RedisConnectionOptions = RedisConnectionOptions(),
        policy: ClusterRetryPolicy = ClusterRetryPolicy(), refreshSeconds: Double = 5, counters: ClusterCounters = ClusterCounters()
    ) {
        self.counters = counters
        self.seeds = seeds
        self.map = map
        self.loop = loop
        self.options = options
        self.policy = policy
        self.refreshMs = max(Int(refreshSeconds * 1000), 100)
    }

    /// Connects to every master and starts the periodic map reload. Call on `loop`. With an
    /// empty map (the cluster was unreachable at start) it loads one from the seeds.
    public func connect() {
        loop.preconditionInEventLoop()
        for master in map.masters { _ = connection(to: master) }
        if map.masters.isEmpty { refreshMap() }
        schedulePeriodicRefresh()
    }

    public func send(_ args: [RedisArgument], _ completion: @escaping (Result<RESPValue, RedisError>) -> Void) {
        run(ClusterCommandRouting(slot: RedisCommandKey.slot(of: args), policy: policy), node: nil, asking: false,
            operation: { connection, asking, done in
                if asking { connection.send(["ASKING"]) { _ in } }  // same loop turn: leaves right before the command
                connection.send(args, done)
            }, completion)
    }

    public func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument],
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        evalScript(script, keys: keys, args: args, confirmedBy: nil, completion)
    }

    /// The `WAIT` goes to the master that ran the script: a redirected call is confirmed where it finally ran.
    public func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], confirmedBy wait: ReplicaWait?,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        let slot = keys.first.map { RedisClusterSlot.slot(forKey: $0) }
        run(ClusterCommandRouting(slot: slot, policy: policy), node: nil, asking: false,
            operation: { connection, asking, done in
                connection.evalScript(script, keys: keys, args: args, asking: asking, confirmedBy: wait, done)
            },
            completion)
    }

    public func close() {
        loop.preconditionInEventLoop()
        closed = true
        if let refreshTimer { loop.cancel(refreshTimer) }
        refreshTimer = nil
        for connection in nodes.values { connection.close() }
    }

    // MARK: Routing

    private func run(
        _ routing: ClusterCommandRouting, node: RedisEndpoint?, asking: Bool,
        operation: @escaping (RedisConnection, _ asking: Bool, @escaping (Result<RESPValue, RedisError>) -> Void) -> Void,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        loop.preconditionInEventLoop()
        guard !closed, let target = node ?? routing.target(in: map) else {
            if !closed { refreshMap() }  // no map yet (no seed answered at start): ask the seeds again
            return completion(.failure(.notConnected))
        }
        let connection = connection(to: target)
        operation(connection, asking) { [self] result in
            var routing = routing
            let decision = routing.next(after: result, map: &map)
            if decision.refreshMap { refreshMap() }
            switch decision.step {
            case .deliver:
                completion(result)
            case .resend where closed:
                completion(result)
            case .resend(let node, let asking, let afterMs):
                counters.count(result)
                if afterMs == 0 { return run(routing, node: node, asking: asking, operation: operation, completion) }
                _ = loop.schedule(afterMilliseconds: afterMs) { [self] in
                    run(routing, node: node, asking: asking, operation: operation, completion)
                }
            }
        }
    }

    private func connection(to node: RedisEndpoint) -> RedisConnection {
        if let existing = nodes[node] { return existing }
        let created = RedisConnection(endpoint: node, loop: loop, options: options)
        nodes[node] = created
        created.connect()
        return created
    }

    // MARK: Slot map

    /// Reloads the map with `CLUSTER SLOTS` from a connected master (or a seed), at most every 100 ms.
    public func refreshMap() {
        loop.preconditionInEventLoop()
        let now = MonotonicClock.now()
        guard !refreshing, !closed, now - lastRefresh >= 100_000_000 || lastRefresh == 0 else { return }
        // A connected master if there is one; otherwise the seeds in turn (one per attempt).
        let connected = map.masters.filter { nodes[$0]?.isConnected == true }
        seedCursor += connected.isEmpty ? 1 : 0
        guard let source = connected.first ?? (seeds.isEmpty ? nil : seeds[seedCursor % seeds.count]) else { return }
        refreshing = true
        lastRefresh = now
        connection(to: source).send(["CLUSTER", "SLOTS"]) { [self] result in
            refreshing = false
            guard case .success(let reply) = result, let fresh = ClusterSlotMap(clusterSlots: reply, answeredBy: source),
                !fresh.masters.isEmpty
            else { return }
            map = fresh
            refreshes += 1
            counters.mapRefreshes.add(1, ordering: .relaxed)
            for master in fresh.masters { _ = connection(to: master) }
        }
    }

    private func schedulePeriodicRefresh() {
        refreshTimer = loop.schedule(afterMilliseconds: refreshMs) { [weak self] in
            guard let self, !self.closed else { return }
            self.refreshMap()
            self.schedulePeriodicRefresh()
        }
    }
}

extension ClusterSlotMap {
    /// Loads the map from the first seed that answers `CLUSTER SLOTS` (blocking: call at start,
    /// never on a loop). Throws the last error when none does.
    public static func load(seeds: [RedisEndpoint], timeoutSeconds: Double = 2) throws(RedisError) -> ClusterSlotMap {
        var lastError = RedisError.connectFailed("no cluster seed given")
        for seed in seeds {
            do {
                let connection = try BlockingRedisConnection(endpoint: seed, timeoutSeconds: timeoutSeconds)
                let reply = try connection.command(["CLUSTER", "SLOTS"])
                guard let map = ClusterSlotMap(clusterSlots: reply, answeredBy: seed), !map.masters.isEmpty else {
                    lastError = .protocolError("\(seed): CLUSTER SLOTS gave no masters")
                    continue
                }
                return map
            } catch {
                lastError = error
            }
        }
        throw lastError
    }
}
