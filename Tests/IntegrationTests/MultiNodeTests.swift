import CouponCore
import Foundation
import GrantFlusher
import ServiceTestSupport
import TestSupport
import Testing

/// Two stateless nodes on one Redis and one PostgreSQL: stock holds across nodes, and when a
/// node dies with grants committed but not acknowledged, the other node's flusher takes them
/// over, so every acknowledged grant still lands exactly once.
@Suite(.serialized) struct MultiNodeTests {
    struct Crash: Error {}

    @Test func neverOversellsAcrossNodesAndSurvivesADeadNodesFlusher() throws {
        // Node A's flusher "dies" after every COMMIT, before XACK: its entries stay pending.
        var dying = TestNode.fastFlusher
        dying.afterCommit = { _ in throw Crash() }
        let nodeA = try TestNode.start(flusherOptions: dying)
        let nodeB = try TestNode.start(redis: nodeA.redis, conninfo: nodeA.conninfo)
        defer { nodeB.stop() }
        let campaign = try nodeA.createCampaign(stock: 500, perUserLimit: 1)

        let users = 3_000, threads = 32
        let outcomes = Locked<[ClaimOutcome]>([])
        let failures = Locked<[String]>([])
        let finished = ConcurrentRun.run(threads: threads, timeoutSeconds: 120) { thread in
            let node = thread % 2 == 0 ? nodeA : nodeB
            let client = node.client(timeoutSeconds: 10)
            defer { client.close() }
            var mine: [ClaimOutcome] = []
            for user in stride(from: thread, to: users, by: threads) {
                do {
                    mine.append(try node.timedClaim(campaignId: campaign, userId: "m\(user)", requestId: "q\(user)", on: client))
                } catch {
                    failures.withLock { $0.append("user \(user): \(error)") }
                }
            }
            outcomes.withLock { $0 += mine }
        }
        #expect(finished)
        #expect(failures.current.isEmpty, "\(failures.current.prefix(3))")
        let all = outcomes.current
        let granted = all.filter { $0.status == 201 }.compactMap(\.code)
        #expect(all.count == users)
        #expect(granted.count == 500)
        #expect(Set(granted).count == 500)
        #expect(all.filter { $0.status == 409 }.allSatisfy { $0.code == "sold_out" })
        #expect(all.filter { $0.status != 201 && $0.status != 409 }.isEmpty)
        #expect(try nodeB.redisStock(campaign) == 0)
        #expect(try nodeB.redisMeta(campaign, "issued") == "500")

        // Node A's flusher holds committed-but-unacked entries; then node A goes away and they
        // sit idle in its pending list.
        #expect(TestEnvironment.waitUntil(seconds: 5) { ((try? nodeB.pendingCount(campaign)) ?? 0) > 0 }, "node A never held entries")
        nodeA.stop()
        #expect(try nodeB.waitForFlush(campaignId: campaign, expected: 500, seconds: 30))
        #expect(
            TestEnvironment.waitUntil(seconds: 30, interval: 0.1) {
                (try? nodeB.pendingCount(campaign)) == 0
            }, "node B's flusher never took over node A's pending entries")
        let stored = try nodeB.storedCoupons(campaign)
        #expect(stored.count == 500)
        #expect(Set(stored.map(\.code)) == Set(granted))
        #expect(try nodeB.issuedEventCount(campaign) == 500)
        let perUser = Dictionary(grouping: stored, by: \.user).mapValues(\.count)
        #expect(perUser.values.allSatisfy { $0 == 1 })
    }
}
