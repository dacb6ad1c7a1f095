import CouponService
import Foundation
import Issuance
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

@testable import GrantFlusher

/// With `--redis-wait-replicas` (issue 10 §2) the flusher commits only grants the master's
/// replica has (`ReplicatedBatch`): PostgreSQL holds only replicated grants.
@Suite(.serialized) struct FlusherReplicaWaitTests {
    /// Real master and replica: while the replica is detached (`REPLICAOF NO ONE`, so `WAIT`
    /// counts 0), grants stay pending in Redis and out of PostgreSQL, read again each
    /// iteration from the consumer's pending entries; once it replicates again they are flushed.
    @Test func unreplicatedEntriesStayPendingUntilTheReplicaHasThem() throws {
        let master = try RedisServer.start()
        let replica = try RedisServer.start()
        defer { replica.kill() }
        func attach() throws {
            try replica.client().command(["REPLICAOF", "127.0.0.1", .string(String(master.port))])
            #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.05) {
                ((try? replica.client().command(["INFO", "replication"]).string) ?? "").contains("master_link_status:up")
            })
        }
        try attach()
        let node = try TestNode.start(redis: master, flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        var options = ClaimPathTests.FlusherCrash.options()
        options.replicaWait = ReplicaWait(replicas: 1, timeoutMs: 100)
        let flusher = ClaimPathTests.FlusherCrash.flusher(node, consumer: "waiting", options)

        _ = try ClaimPathTests.FlusherCrash.claim(node, campaign: campaign, count: 5, prefix: "a")
        #expect(try ClaimPathTests.FlusherCrash.drive(flusher, seconds: 10) { try node.storedCoupons(campaign).count == 5 })
        #expect(flusher.metrics.entriesUnreplicated.load(ordering: .relaxed) == 0)

        try replica.client().command(["REPLICAOF", "NO", "ONE"])
        _ = try ClaimPathTests.FlusherCrash.claim(node, campaign: campaign, count: 7, prefix: "b")
        for _ in 0..<3 { try flusher.runOnce() }
        #expect(try node.storedCoupons(campaign).count == 5)
        #expect(try node.pendingCount(campaign) == 7)
        #expect(flusher.metrics.entriesUnreplicated.load(ordering: .relaxed) >= 7)
        #expect(flusher.metrics.entriesAcked.load(ordering: .relaxed) == 5)

        try attach()
        #expect(try ClaimPathTests.FlusherCrash.drive(flusher, seconds: 10) { try node.storedCoupons(campaign).count == 12 })
        #expect(try node.pendingCount(campaign) == 0)
        #expect(flusher.metrics.entriesAcked.load(ordering: .relaxed) == 12)
    }

    /// The decision (pure): a stream's batch is committed only when the fence claimed its last
    /// id and `WAIT` counted enough replicas.
    @Test func verdictNeedsTheFenceAndTheReplicas() {
        let claimed: RESPValue = .array([.bulkString(Array("5-0".utf8))])
        #expect(ReplicatedBatch.verdict(.success(claimed), lastId: "5-0") == .confirmed)
        // The master does not hold the id pending for us (read elsewhere, or its stream was replaced).
        #expect(ReplicatedBatch.verdict(.success(.array([])), lastId: "5-0") == .unconfirmed(acknowledged: 0))
        let short = ReplicaShortfall(acknowledged: 1, required: 2, reply: claimed)
        #expect(ReplicatedBatch.verdict(.failure(.unconfirmed(short)), lastId: "5-0") == .unconfirmed(acknowledged: 1))
        #expect(ReplicatedBatch.verdict(.failure(.connectionLost), lastId: "5-0") == .unconfirmed(acknowledged: 0))
        #expect(
            ReplicatedBatch.fenceCommand(stream: "cp:{c:1}:grants", lastId: "5-0", consumer: "n1")
                == ["XCLAIM", "cp:{c:1}:grants", "flushers", "n1", "0", "5-0", "JUSTID"])
    }

    /// `WAIT`'s judgement of a reply (pure): enough replicas → the reply; fewer, or `WAIT`
    /// failed → `.unconfirmed` carrying it; the command's own error unchanged.
    @Test func judgeComparesTheWaitReplyWithTheRequiredCount() {
        let wait = ReplicaWait(replicas: 2, timeoutMs: 50)!
        let reply: RESPValue = .integer(7)
        #expect(wait.judge(.success(reply), waitReply: .success(.integer(2))) == .success(reply))
        #expect(wait.judge(.success(reply), waitReply: .success(.integer(3))) == .success(reply))
        let one = ReplicaShortfall(acknowledged: 1, required: 2, reply: reply)
        #expect(wait.judge(.success(reply), waitReply: .success(.integer(1))) == .failure(.unconfirmed(one)))
        let none = ReplicaShortfall(acknowledged: 0, required: 2, reply: reply)
        #expect(wait.judge(.success(reply), waitReply: .failure(.timeout)) == .failure(.unconfirmed(none)))
        #expect(wait.judge(.failure(.timeout), waitReply: .success(.integer(2))) == .failure(.timeout))
    }
}
