import Foundation

/// The blocking side of Redis Cluster (tools, workers, the flusher): one blocking connection per
/// master, each command sent to the master owning its slot, redirections followed by
/// `ClusterCommandRouting` (sleeping the calling thread for backoffs). A `BlockingRedisConnection`
/// opened with `init(cluster:)` delegates to one, so code written against one Redis runs on a
/// cluster as long as each command touches one slot — which coupond's key layout guarantees.
final class BlockingClusterRouter: @unchecked Sendable {  // every field is touched under `lock`
    let seeds: [RedisEndpoint]
    let policy: ClusterRetryPolicy
    private let lock = NSLock()
    private var timeoutSeconds: Double
    private var map: ClusterSlotMap
    private var nodes: [RedisEndpoint: BlockingRedisConnection] = [:]

    init(seeds: [RedisEndpoint], timeoutSeconds: Double, policy: ClusterRetryPolicy) throws(RedisError) {
        self.seeds = seeds
        self.timeoutSeconds = timeoutSeconds
        self.policy = policy
        self.map = try ClusterSlotMap.load(seeds: seeds, timeoutSeconds: timeoutSeconds)
    }

    var masters: [RedisEndpoint] { lock.withLock { map.masters } }

    func setTimeout(seconds: Double) {
        lock.withLock {
            timeoutSeconds = seconds
            for node in nodes.values { node.setTimeout(seconds: seconds) }
        }
    }

    func dropIfClosedByPeer() -> Bool {
        lock.withLock { nodes.values.reduce(true) { $1.dropIfClosedByPeer() && $0 } }
    }

    func close() { lock.withLock { for node in nodes.values { node.close() } } }

    var isConnected: Bool { lock.withLock { nodes.values.contains { $0.isConnected } } }

    /// One command on the master owning its slot. `SCRIPT ...` goes to every master (so a
    /// later `EVALSHA` finds the script wherever its key lives); the first master's reply is returned.
    func command(_ args: [RedisArgument]) throws(RedisError) -> RESPValue {
        lock.lock()
        defer { lock.unlock() }
        if isEveryMaster(args) {
            var first: Result<RESPValue, RedisError>?
            for master in map.masters {
                let result = Result { () throws(RedisError) -> RESPValue in try node(master).command(args) }
                if first == nil { first = result }
            }
            return try (first ?? .failure(.notConnected)).get()
        }
        return try routed(args, routing: ClusterCommandRouting(slot: RedisCommandKey.slot(of: args), policy: policy), first: nil).result.get()
    }

    /// Every command pipelined to its master (one round trip per master involved); a command
    /// answered with a redirection is then followed on its own. Results in the commands' order.
    func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        try pipeline(commands, confirmedBy: nil)
    }

    /// With `wait`: each master's commands are followed by `WAIT` on that master's connection
    /// and judged by it; a command answered after a redirection ran elsewhere, uncovered.
    func pipeline(_ commands: [[RedisArgument]], confirmedBy wait: ReplicaWait?) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        lock.lock()
        defer { lock.unlock() }
        return try pipelineHoldingLock(commands, confirmedBy: wait)
    }

    /// `BlockingRedisConnection.stream` on a cluster: groups go with up to `window` in flight on
    /// one master's connection as long as every command of each group maps to that master (a
    /// bulk job's script calls for one campaign). A group spanning masters (or holding a
    /// `SCRIPT` command) runs alone through `pipeline`, redirections followed; a group for
    /// another master ends the stream on the first (its in-flight replies are read) and starts
    /// one there. A redirection, `TRYAGAIN` or `CLUSTERDOWN` reply inside a stream is handed to
    /// `replies` as it is — later commands were sent already, so nothing is resent — and the
    /// slot map is reloaded, so the caller's retry goes where the slot lives now.
    func stream(
        window: Int, next: () throws -> [[RedisArgument]]?, replies: ([Result<RESPValue, RedisError>]) throws -> Void
    ) throws {
        lock.lock()
        defer { lock.unlock() }
        var pending = try next()
        while let group = pending {
            pending = nil
            guard let master = master(of: group) else {
                try replies(try pipelineHoldingLock(group, confirmedBy: nil))
                pending = try next()
                continue
            }
            var first: [[RedisArgument]]? = group
            var ended = false  // `next` gave nil or a group for another master: ask it no more here
            var stale = false
            defer { if stale { reloadMap() } }  // after the stream: the master's connection is free again
            do {
                try node(master).stream(
                    window: window,
                    next: {
                        if let group = first {
                            first = nil
                            return group
                        }
                        guard !ended else { return nil }
                        guard let group = try next() else {
                            ended = true
                            return nil
                        }
                        guard self.master(of: group) == master else {
                            (ended, pending) = (true, group)
                            return nil
                        }
                        return group
                    },
                    replies: { results in
                        if results.contains(where: Self.meansStaleMap) { stale = true }
                        try replies(results)
                    })
            } catch let error as RedisError where error.isConnectionLevel {
                stale = true  // the master may be gone (a failover): the caller's retry should find its successor
                throw error
            }
        }
    }

    /// The one master every command of `group` maps to; nil when they span masters or one goes to all.
    private func master(of group: [[RedisArgument]]) -> RedisEndpoint? {
        var found: RedisEndpoint?
        for args in group {
            guard !isEveryMaster(args), let target = ClusterCommandRouting(slot: RedisCommandKey.slot(of: args)).target(in: map)
            else { return nil }
            if found == nil { found = target } else if found != target { return nil }
        }
        return found
    }

    private static func meansStaleMap(_ result: Result<RESPValue, RedisError>) -> Bool {
        guard case .failure(.server(let error)) = result else { return false }
        return [.moved, .ask, .tryagain, .clusterdown].contains(error.prefix)
    }

    private func pipelineHoldingLock(_ commands: [[RedisArgument]], confirmedBy wait: ReplicaWait?) throws(RedisError)
        -> [Result<RESPValue, RedisError>]
    {
        var byMaster: [RedisEndpoint: [Int]] = [:]
        var order: [RedisEndpoint] = []
        let masters = map.masters
        for (index, args) in commands.enumerated() {
            let targets: [RedisEndpoint]
            if isEveryMaster(args) {
                targets = masters
            } else if let target = ClusterCommandRouting(slot: RedisCommandKey.slot(of: args)).target(in: map) {
                targets = [target]
            } else {
                throw .notConnected
            }
            for target in targets {
                if byMaster[target] == nil { order.append(target) }
                byMaster[target, default: []].append(index)
            }
        }
        var results = [Result<RESPValue, RedisError>?](repeating: nil, count: commands.count)
        var waitReplies = [Result<RESPValue, RedisError>?](repeating: nil, count: commands.count)
        for master in order {
            let indices = byMaster[master]!
            var replies: [Result<RESPValue, RedisError>]
            var waitReply: Result<RESPValue, RedisError> = .failure(.notConnected)
            do {
                replies = try node(master).pipeline(indices.map { commands[$0] } + (wait.map { [$0.command] } ?? []))
                if wait != nil { waitReply = replies.removeLast() }
            } catch .connectFailed(let text) {
                // That master is gone: nothing was sent; each command goes its own way below.
                replies = indices.map { _ in .failure(.connectFailed(text)) }
            }
            for (index, reply) in zip(indices, replies) where results[index] == nil {
                results[index] = reply
                waitReplies[index] = waitReply
            }
        }
        for index in commands.indices {
            let routing = ClusterCommandRouting(slot: RedisCommandKey.slot(of: commands[index]), policy: policy)
            let (result, resent) = routed(commands[index], routing: routing, first: results[index]!)
            if let wait {
                results[index] = resent ? wait.uncovered(result) : wait.judge(result, waitReply: waitReplies[index]!)
            } else {
                results[index] = result
            }
        }
        return results.map { $0! }
    }

    // MARK: Routing (under `lock`)

    /// Runs `args` (or takes `first`, its reply already received) through the state machine.
    /// I/O errors come back as failures; `command` rethrows them like a standalone connection.
    /// `resent`: the reply is not `first` (the command was sent again, maybe elsewhere).
    private func routed(_ args: [RedisArgument], routing start: ClusterCommandRouting, first: Result<RESPValue, RedisError>?)
        -> (result: Result<RESPValue, RedisError>, resent: Bool)
    {
        var routing = start
        var result = first
        var node: RedisEndpoint? = nil
        var asking = false
        var resent = false
        while true {
            if result == nil {
                guard let target = node ?? routing.target(in: map) else { return (.failure(.notConnected), resent) }
                result = Result { () throws(RedisError) -> RESPValue in
                    let connection = try self.node(target)
                    if asking { return try connection.pipeline([["ASKING"], args])[1].get() }
                    return try connection.command(args)
                }
            }
            let decision = routing.next(after: result!, map: &map)
            if decision.refreshMap { reloadMap() }
            switch decision.step {
            case .deliver:
                return (result!, resent)
            case .resend(let next, let nextAsking, let afterMs):
                resent = true
                if afterMs > 0 { Thread.sleep(forTimeInterval: Double(afterMs) / 1000) }
                (node, asking, result) = (next, nextAsking, nil)
            }
        }
    }

    private func isEveryMaster(_ args: [RedisArgument]) -> Bool {
        guard case .string(let name)? = args.first else { return false }
        return name.uppercased() == "SCRIPT"
    }

    private func node(_ endpoint: RedisEndpoint) throws(RedisError) -> BlockingRedisConnection {
        if let existing = nodes[endpoint] { return existing }
        let created = try BlockingRedisConnection(endpoint: endpoint, timeoutSeconds: timeoutSeconds)
        nodes[endpoint] = created
        return created
    }

    private func reloadMap() {
        for source in map.masters + seeds {
            guard let reply = try? node(source).command(["CLUSTER", "SLOTS"]),
                let fresh = ClusterSlotMap(clusterSlots: reply, answeredBy: source), !fresh.masters.isEmpty
            else { continue }
            map = fresh
            return
        }
    }
}
