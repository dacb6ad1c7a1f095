import Foundation
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// A slot moved to another master while a cluster load runs (the unsharded and the sharded
/// load suites): `run` is the load's hook; `check` asserts the slot moved and that the nodes
/// saw the move (ASK or TRYAGAIN during it, MOVED or a map reload after).
final class MidLoadMigration: @unchecked Sendable {  // immutable but for `outcome`, which is locked
    let cluster: RedisCluster
    let slot: Int
    let source: RedisEndpoint
    let target: RedisEndpoint
    let batch: Int
    private let outcome = Locked<(keys: Int, seconds: Double, error: String?)>((0, 0, nil))

    init(_ cluster: RedisCluster, slot: Int, toOwnerOf targetSlot: Int, batch: Int) throws {
        let map = try cluster.slotMap()
        self.cluster = cluster
        self.slot = slot
        self.source = map.owner(ofSlot: slot)!
        self.target = map.owner(ofSlot: targetSlot)!
        self.batch = batch
    }

    func run() {
        let started = Date()
        do {
            let keys = try cluster.migrate(slot: slot, to: target, batch: batch)
            outcome.withLock { $0 = (keys, Date().timeIntervalSince(started), nil) }
        } catch {
            outcome.withLock { $0.error = "\(error)" }
        }
    }

    func check(nodes: [TestNode], label: String) throws {
        let moved = outcome.current
        print("[\(label)] slot \(slot) \(source) → \(target): \(moved.keys) keys in \(String(format: "%.2f", moved.seconds)) s")
        #expect(moved.error == nil, "\(moved.error ?? "")")
        #expect(moved.keys > 0)
        #expect(try cluster.slotMap().owner(ofSlot: slot) == target)
        let seen = nodes.map { Dictionary(uniqueKeysWithValues: $0.node.metrics.cluster.snapshot.map { ($0.kind, $0.count) }) }
        print("[\(label)] redirections seen by the nodes: \(seen)")
        #expect(seen.reduce(0) { $0 + ($1["ask"] ?? 0) + ($1["tryagain"] ?? 0) + ($1["moved"] ?? 0) } > 0)
    }
}
