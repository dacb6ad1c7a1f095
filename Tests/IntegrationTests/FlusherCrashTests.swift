import Foundation
import GrantFlusher
import Testing

import ServiceTestSupport

struct SimulatedCrash: Error {}

extension ClaimPathTests {
    /// Guarantee 3 across a flusher crash between COMMIT and XACK (ARCHITECTURE §4).
    @Suite struct FlusherCrash {
        static func options(batchSize: Int = 1_000, claimIdleMilliseconds: Int = 600_000, crash: Bool = false) -> Flusher.Options {
            var options = TestNode.fastFlusher
            options.batchSize = batchSize
            options.claimIdleMilliseconds = claimIdleMilliseconds
            options.sweepSeconds = 0
            options.trimEverySeconds = 0
            if crash { options.afterCommit = { _ in throw SimulatedCrash() } }
            return options
        }

        static func flusher(_ node: TestNode, consumer: String, _ options: Flusher.Options) -> Flusher {
            Flusher(consumer: consumer, redis: node.redis.endpoint, postgresConninfo: node.conninfo, options: options)
        }

        /// Claims `count` coupons for users `<prefix>0...`, one each, on one keep-alive connection.
        static func claim(_ node: TestNode, campaign: Int64, count: Int, prefix: String) throws -> [String] {
            let client = node.client()
            defer { client.close() }
            var codes: [String] = []
            for index in 0..<count {
                let outcome = try node.timedClaim(campaignId: campaign, userId: "\(prefix)\(index)", requestId: "\(prefix)-r\(index)", on: client)
                guard outcome.status == 201, let code = outcome.code else { throw TestFailure("claim \(index): \(outcome.status)") }
                codes.append(code)
            }
            return codes
        }

        /// Calls `runOnce` until `done` holds (at most `seconds`).
        static func drive(_ flusher: Flusher, seconds: Double = 15, until done: () throws -> Bool) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                try flusher.runOnce()
                if try done() { return true }
            }
            return false
        }

        /// A flusher dies after COMMIT, before XACK; the same consumer restarted re-reads its
        /// pending entries: no duplicate rows or events, and nothing stays pending. While they
        /// are pending, trimming keeps them even though later entries were flushed and acked.
        @Test func sameConsumerRedeliversWithoutDuplicates() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 1_000, perUserLimit: 1)
            let first = try Self.claim(node, campaign: campaign, count: 200, prefix: "a")
            #expect(try node.streamLength(campaign) == 200)

            let crashing = Self.flusher(node, consumer: "flusher-a", Self.options(crash: true))
            #expect(throws: SimulatedCrash.self) { try crashing.runOnce() }
            #expect(try node.storedCoupons(campaign).count == 200)  // committed
            #expect(try node.issuedEventCount(campaign) == 200)
            #expect(try node.pendingCount(campaign) == 200)  // not acked
            #expect(crashing.metrics.entriesAcked.load(ordering: .relaxed) == 0)

            // Later grants, flushed and acked by another consumer that trims: the 200 pending
            // entries sit below them and must survive the trim.
            let second = try Self.claim(node, campaign: campaign, count: 50, prefix: "b")
            let bystander = Self.flusher(node, consumer: "flusher-b", Self.options())
            #expect(try Self.drive(bystander) { try node.storedCoupons(campaign).count == 250 })
            for _ in 0..<5 { try bystander.runOnce() }  // several trims
            #expect(bystander.metrics.entriesAcked.load(ordering: .relaxed) == 50)
            #expect(try node.pendingCount(campaign) == 200)
            #expect(try node.streamLength(campaign) == 250)
            #expect(try node.streamLength(campaign) >= node.pendingCount(campaign))

            let restarted = Self.flusher(node, consumer: "flusher-a", Self.options())
            #expect(try Self.drive(restarted) { try node.pendingCount(campaign) == 0 })
            #expect(restarted.metrics.entriesAcked.load(ordering: .relaxed) == 200)
            #expect(restarted.metrics.rowsWritten.load(ordering: .relaxed) == 0)  // all were already there
            let stored = try node.storedCoupons(campaign)
            #expect(stored.count == 250)
            #expect(Set(stored.map(\.code)) == Set(first + second))
            #expect(try node.issuedEventCount(campaign) == 250)
            // Everything acked: the next trims empty the stream.
            #expect(try Self.drive(restarted, seconds: 5) { try node.streamLength(campaign) == 0 })
            #expect(try node.streamLength(campaign) == 0)
            #expect(try node.redisMeta(campaign, "issued") == "250")
        }

        /// Consumer A reads a batch, commits and dies before XACK; consumer B takes A's idle
        /// entries over with XAUTOCLAIM and acks them, writing nothing twice.
        @Test func anotherConsumerTakesOverIdleEntries() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 1_000, perUserLimit: 1)
            let codes = try Self.claim(node, campaign: campaign, count: 200, prefix: "u")

            let dead = Self.flusher(node, consumer: "dead-a", Self.options(batchSize: 120, crash: true))
            #expect(throws: SimulatedCrash.self) { try dead.runOnce() }
            #expect(try node.storedCoupons(campaign).count == 120)
            #expect(try node.pendingCount(campaign) == 120)
            #expect(try node.streamLength(campaign) == 200)

            Thread.sleep(forTimeInterval: 0.2)  // A's entries become idle past B's threshold
            let taker = Self.flusher(node, consumer: "taker-b", Self.options(claimIdleMilliseconds: 100))
            var pendingSeen: [Int64] = []
            var lengthAtLeastPending = true
            let done = try Self.drive(taker) {
                let pending = try node.pendingCount(campaign)
                pendingSeen.append(pending)
                if try node.streamLength(campaign) < pending { lengthAtLeastPending = false }
                return try pending == 0 && node.storedCoupons(campaign).count == 200
            }
            #expect(done)
            #expect(lengthAtLeastPending)
            #expect(try node.pendingCount(campaign) == 0)
            #expect(taker.metrics.entriesAcked.load(ordering: .relaxed) == 200)  // 120 taken over + 80 new
            #expect(taker.metrics.rowsWritten.load(ordering: .relaxed) == 80)
            let stored = try node.storedCoupons(campaign)
            #expect(stored.count == 200)
            #expect(Set(stored.map(\.code)) == Set(codes))
            #expect(try node.issuedEventCount(campaign) == 200)
            #expect(try Self.drive(taker, seconds: 5) { try node.streamLength(campaign) == 0 })
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
