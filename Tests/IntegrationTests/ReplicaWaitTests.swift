import CouponCore
import CouponService
import Foundation
import Issuance
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// `--redis-wait-replicas` (issue 10 §2) against a real master with a real replica: grants are
/// answered only once the replica has them; while it stalls, grants get 503
/// `replication_unconfirmed` (refusals are still answered), and the retry with the same
/// request id returns the grant once the replica caught up.
@Suite(.serialized) struct ReplicaWaitTests {
    @Test func grantsWaitForTheReplicaAndUnconfirmedOnesAre503UntilRetried() throws {
        let master = try RedisServer.start(appendOnly: true, appendFsyncAlways: true)
        let replica = try RedisServer.start()
        try replica.client().command(["REPLICAOF", "127.0.0.1", .string(String(master.port))])
        #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.05) {
            ((try? replica.client().command(["INFO", "replication"]).string) ?? "").contains("master_link_status:up")
        })
        let node = try TestNode.start(redis: master) {
            $0.redisWaitReplicas = 1
            $0.redisWaitTimeoutMs = 200
        }
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)

        let first = try node.claim(campaignId: campaign, userId: "alice", requestId: "a1")
        #expect(first.status == 201)
        let firstCode = try #require(TestNode.code(of: first))
        // Confirmed means the replica has it at the moment of the answer.
        #expect(try replica.client().command(["HGET", .string(CampaignKeys(campaignId: campaign).users), "alice"]).int == 1)

        // The replica stalls for 1.5 s: WAIT times out after 200 ms.
        let sleeper = Thread { _ = try? replica.client().command(["DEBUG", "SLEEP", "1.5"]) }
        sleeper.start()
        Thread.sleep(forTimeInterval: 0.1)
        let stalled = try node.claim(campaignId: campaign, userId: "bob", requestId: "b1")
        #expect(stalled.status == 503)
        #expect(TestNode.code(of: stalled) == "replication_unconfirmed")
        #expect(stalled.headers["Retry-After"] == "1")
        // A refusal in the same situation is answered as decided (nothing to confirm).
        let refused = try node.claim(campaignId: campaign, userId: "alice", requestId: "a2")
        #expect(refused.status == 409)
        #expect(TestNode.code(of: refused) == "limit_reached")

        // The replica is back: the retry returns the grant that was made, and nothing else.
        #expect(TestEnvironment.waitUntil(seconds: 5, interval: 0.05) {
            (try? replica.client().command(["HGET", .string(CampaignKeys(campaignId: campaign).users), "bob"]).int) == 1
        })
        let retried = try node.claim(campaignId: campaign, userId: "bob", requestId: "b1")
        #expect(retried.status == 201)
        // The replay wrote (its counter), so its WAIT covered the original grant.
        #expect(try node.redisMeta(campaign, "out:replayed") == "1")
        #expect(try node.redisStock(campaign) == 8)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 2))
        let stored = try node.storedCoupons(campaign)
        #expect(Set(stored.map(\.code)) == [firstCode, try #require(TestNode.code(of: retried))])
    }

    /// The engine's reply mapping (pure): in a batch that too few replicas confirmed, grants
    /// become `unconfirmed` (and are returned for their hints), refusals stay refusals.
    @Test func unconfirmedBatchFailsItsGrantsOnly() {
        let requests = ["a", "b", "c"].map { ClaimRequest(campaignId: 7, userId: "u\($0)", requestId: "r\($0)", tags: []) }
        let grantText = "ABCDEFGHJKMNPQRS|1000|1000|2000|1-0"
        let reply = RESPValue.array([
            .array([.bulkString(Array("granted".utf8)), .bulkString(Array(grantText.utf8))]),
            .array([.bulkString(Array("limit_reached".utf8))]),
            .array([.bulkString(Array("replayed".utf8)), .bulkString(Array(grantText.utf8))]),
        ])
        let shortfall = ReplicaShortfall(acknowledged: 0, required: 1, reply: reply)
        let outcomes = ClaimEngine.outcomes(.failure(.unconfirmed(shortfall)), requests, batched: true)
        #expect(outcomes.count == 3)
        #expect(outcomes[0].0 == .failure(.redis(.unconfirmed(shortfall))))
        #expect(outcomes[0].1?.code == "ABCDEFGHJKMNPQRS")
        #expect(outcomes[1].0 == .success(.refused(.limitReached)))
        #expect(outcomes[1].1 == nil)
        #expect(outcomes[2].0 == .failure(.redis(.unconfirmed(shortfall))))
        #expect(outcomes[2].1?.userId == "uc")
        let confirmed = ClaimEngine.outcomes(.success(reply), requests, batched: true)
        #expect(confirmed.map { (try? $0.0.get())?.outcome } == ["granted", "limit_reached", "replayed"])
        #expect(confirmed.allSatisfy { $0.1 == nil })
        let lost = ClaimEngine.outcomes(.failure(.connectionLost), requests, batched: true)
        #expect(lost.allSatisfy { $0.0 == .failure(.redis(.connectionLost)) && $0.1 == nil })
    }

    @Test func settingsAreParsedAndTheWaitMustFitInTheCommandTimeout() throws {
        let (configuration, _) = try Configuration.parse(
            arguments: ["--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "250"], environment: [:])
        #expect(configuration.replicaWait == ReplicaWait(replicas: 1, timeoutMs: 250))
        let (off, _) = try Configuration.parse(arguments: [], environment: [:])
        #expect(off.replicaWait == nil)
        #expect(off.redisWaitTimeoutMs == 100)
        let (fromEnvironment, _) = try Configuration.parse(arguments: [], environment: ["COUPOND_REDIS_WAIT_REPLICAS": "2"])
        #expect(fromEnvironment.replicaWait == ReplicaWait(replicas: 2, timeoutMs: 100))
        #expect(throws: Configuration.Error.self) {
            try Configuration.parse(arguments: ["--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "1000"], environment: [:])
        }
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--redis-wait-replicas", "-1"], environment: [:]) }
    }
}
