import Foundation
import RedisClient
import Synchronization

/// A real Redis Cluster on loopback for tests: `masters` masters with `replicasPerMaster`
/// replicas each, every node with AOF and `appendfsync always`, joined with
/// `redis-cli --cluster create` (or, for a single master, `CLUSTER ADDSLOTSRANGE`). Start-up
/// takes seconds, so tests share one (`shared()`) and call `flushAll()` first.
public final class RedisCluster: @unchecked Sendable {  // `servers` is immutable after start
    public let servers: [RedisServer]
    public let masters: Int

    private static let sharedCluster = Mutex<RedisCluster?>(nil)

    /// 3 masters + 3 replicas, started on first use and shared by every test of the process.
    public static func shared() throws -> RedisCluster {
        try sharedCluster.withLock { cluster in
            if let cluster { return cluster }
            let started = try RedisCluster.start(masters: 3, replicasPerMaster: 1)
            cluster = started
            return started
        }
    }

    public static func start(masters: Int, replicasPerMaster: Int) throws -> RedisCluster {
        precondition(masters >= 1 && (masters >= 3 || replicasPerMaster == 0), "redis-cli needs 3 masters for replicas")
        let servers = try (0..<(masters * (1 + replicasPerMaster))).map { _ in try RedisServer.startClusterNode() }
        let cluster = RedisCluster(servers: servers, masters: masters)
        if masters == 1 {
            try servers[0].client().command(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
        } else {
            let create = try ChildProcess(
                executable: "/usr/bin/redis-cli",
                arguments: ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" }
                    + ["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"],
                logPath: servers[0].directory + "/cluster-create.log")
            guard TestEnvironment.waitUntil(seconds: 60, interval: 0.1, { !create.isRunning }) else {
                throw TestSupportError("redis-cli --cluster create did not finish")
            }
        }
        guard TestEnvironment.waitUntil(seconds: 60, interval: 0.1, { cluster.isSettled }) else {
            throw TestSupportError("Redis Cluster on \(servers.map(\.port)) did not settle")
        }
        return cluster
    }

    private init(servers: [RedisServer], masters: Int) {
        self.servers = servers
        self.masters = masters
    }

    /// Every node, as seeds for `--redis-cluster`.
    public var seeds: [RedisEndpoint] { servers.map(\.endpoint) }

    /// A blocking client in cluster mode (routes by slot, follows redirections).
    public func client() throws -> BlockingRedisConnection { try BlockingRedisConnection(cluster: seeds, timeoutSeconds: 5) }

    /// The current slot map, as the first node that answers sees it.
    public func slotMap() throws -> ClusterSlotMap { try ClusterSlotMap.load(seeds: seeds) }

    /// `FLUSHALL` on every master (tests sharing the cluster reuse campaign ids), then waits
    /// until the replicas are empty too.
    public func flushAll() throws {
        for master in try slotMap().masters { try BlockingRedisConnection(endpoint: master).command(["FLUSHALL"]) }
    }

    /// Every node reports `cluster_state:ok`, and each one's slot map is complete with `masters` masters
    /// that agree; every replica has finished its first sync.
    var isSettled: Bool {
        var maps: [ClusterSlotMap] = []
        for server in servers {
            guard let client = try? BlockingRedisConnection(endpoint: server.endpoint, timeoutSeconds: 1),
                let info = try? client.command(["CLUSTER", "INFO"]).string, info.contains("cluster_state:ok"),
                let reply = try? client.command(["CLUSTER", "SLOTS"]),
                let map = ClusterSlotMap(clusterSlots: reply, answeredBy: server.endpoint), map.isComplete, map.masters.count == masters
            else { return false }
            if let role = try? client.command(["INFO", "replication"]).string, role.contains("role:slave"),
                !role.contains("master_link_status:up")
            { return false }
            maps.append(map)
        }
        return Set(maps.map(\.masters)).count == 1 && maps.allSatisfy { $0 == maps[0] }
    }

    /// `CLUSTER MYID` of a node.
    public func nodeId(_ endpoint: RedisEndpoint) throws -> String {
        try BlockingRedisConnection(endpoint: endpoint).command(["CLUSTER", "MYID"]).string ?? ""
    }

    /// Moves `slot` to `target` the way an operator reshards: `SETSLOT IMPORTING` on the target,
    /// `SETSLOT MIGRATING` on the source, `MIGRATE ... KEYS` in batches of `batch`, then
    /// `SETSLOT NODE` on the target, the source and every other master. Returns the keys moved.
    @discardableResult
    public func migrate(slot: Int, to target: RedisEndpoint, batch: Int = 1000) throws -> Int {
        let map = try slotMap()
        guard let source = map.owner(ofSlot: slot), source != target, case .tcp(let host, let port) = target else { return 0 }
        let sourceClient = try BlockingRedisConnection(endpoint: source, timeoutSeconds: 10)
        let targetClient = try BlockingRedisConnection(endpoint: target, timeoutSeconds: 10)
        let (sourceId, targetId) = (try nodeId(source), try nodeId(target))
        try targetClient.command(["CLUSTER", "SETSLOT", .int(Int64(slot)), "IMPORTING", .string(sourceId)])
        try sourceClient.command(["CLUSTER", "SETSLOT", .int(Int64(slot)), "MIGRATING", .string(targetId)])
        var moved = 0
        while true {
            let keys = (try sourceClient.command(["CLUSTER", "GETKEYSINSLOT", .int(Int64(slot)), .int(Int64(batch))]).array ?? [])
                .compactMap(\.string)
            if keys.isEmpty { break }
            try sourceClient.command(
                ["MIGRATE", .string(host), .int(Int64(port)), "", "0", "10000", "KEYS"] + keys.map { .string($0) })
            moved += keys.count
        }
        let assign: [RedisArgument] = ["CLUSTER", "SETSLOT", .int(Int64(slot)), "NODE", .string(targetId)]
        try targetClient.command(assign)
        try sourceClient.command(assign)
        for other in map.masters where other != source && other != target {
            try BlockingRedisConnection(endpoint: other).command(assign)
        }
        return moved
    }
}
