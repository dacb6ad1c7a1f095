import Foundation
import Testing
import TestSupport
@testable import RedisClient

/// The routers against a real cluster (3 masters + 3 replicas), a slot moved by hand so each
/// redirection happens on cue: `ASK` while the key sits on the importing node, `MOVED` once the
/// slot is reassigned, a script the importing node has never seen (`NOSCRIPT` under `ASKING`).
@Suite(.serialized) struct ClusterRouterTests {
    @Test func followsAskDuringAMigrationAndMovedAfterIt() async throws {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let key = "cp:{router-\(UUID().uuidString.prefix(8))}:value"
        let slot = RedisClusterSlot.slot(forKey: key)
        let map = try cluster.slotMap()
        let source = try #require(map.owner(ofSlot: slot))
        let target = try #require(map.masters.first { $0 != source })
        guard case .tcp(let targetHost, let targetPort) = target else { return }
        let blocking = try cluster.client()
        try blocking.command(["SET", .string(key), "v1"])

        // Mid-migration: the slot still belongs to the source, the key is already on the target.
        let sourceClient = try BlockingRedisConnection(endpoint: source)
        let targetClient = try BlockingRedisConnection(endpoint: target)
        try targetClient.command(["CLUSTER", "SETSLOT", .int(Int64(slot)), "IMPORTING", .string(try cluster.nodeId(source))])
        try sourceClient.command(["CLUSTER", "SETSLOT", .int(Int64(slot)), "MIGRATING", .string(try cluster.nodeId(target))])
        try sourceClient.command(["MIGRATE", .string(targetHost), .int(Int64(targetPort)), .string(key), "0", "5000"])

        let loop = try TestLoop()
        let counters = ClusterCounters()
        let router = RedisClusterRouter(seeds: cluster.seeds, map: map, loop: loop.loop, refreshSeconds: 60, counters: counters)
        await loop.sync { router.connect() }
        let value = Result<RESPValue, RedisError>.success(.bulkString(Array("v1".utf8)))

        // GET: the source answers ASK, the router sends ASKING + GET to the target.
        let asked = await loop.run { done in router.send(["GET", .string(key)]) { done($0) } }
        #expect(asked == value)
        #expect(counters.ask.load(ordering: .relaxed) == 1)
        #expect(counters.moved.load(ordering: .relaxed) == 0)
        // A script the target never loaded: ASK, then NOSCRIPT there (its retry lacks ASKING, so
        // MOVED back to the source), ASK again, and the script runs on the target — once.
        let script = RedisScript("return redis.call('INCR', KEYS[1] .. ':n') .. '-\(UUID().uuidString)'")
        let counterKey = RedisArgument.string(key)
        let ran = await loop.run { done in router.evalScript(script, keys: [counterKey], args: []) { done($0) } }
        #expect(ran.map(\.string?.first) == .success("1"))
        #expect(try targetClient.pipeline([["ASKING"], ["GET", .string(key + ":n")]])[1].get().string == "1")
        // The blocking router follows the same ASK.
        #expect(try blocking.command(["GET", .string(key)]).string == "v1")

        // The migration ends: every master learns the new owner; the router's map is stale.
        for master in map.masters {
            try BlockingRedisConnection(endpoint: master).command(["CLUSTER", "SETSLOT", .int(Int64(slot)), "NODE", .string(try cluster.nodeId(target))])
        }
        let movedBefore = counters.moved.load(ordering: .relaxed)
        let moved = await loop.run { done in router.send(["GET", .string(key)]) { done($0) } }
        #expect(moved == value)
        #expect(counters.moved.load(ordering: .relaxed) == movedBefore + 1)
        #expect(await loop.sync { router.map.owner(ofSlot: slot) } == target)
        // The next command goes straight to the new owner: no redirection.
        let direct = await loop.run { done in router.send(["GET", .string(key)]) { done($0) } }
        #expect(direct == value)
        #expect(counters.moved.load(ordering: .relaxed) == movedBefore + 1)
        #expect(try blocking.command(["GET", .string(key)]).string == "v1")
        await loop.sync { router.close() }
    }
}
