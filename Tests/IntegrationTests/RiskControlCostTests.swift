import CouponService
import Foundation
import RiskControl
import ServiceTestSupport
import TestSupport
import Testing

/// What the limits cost on the claim path: the same closed-loop claim load against a node
/// with the shipped limits and a node with every limit off, alternating, same run.
@Suite(.serialized) struct RiskControlCostTests {
    @Test func limitsCostLittleOnTheClaimPath() throws {
        let limited = try TestNode.start(flusher: false)
        defer { limited.stop() }
        let open = try TestNode.start(redis: limited.redis, flusher: false, conninfo: limited.conninfo) { configuration in
            configuration.claimUserRate = .unlimited
            configuration.keyRate = .unlimited
            configuration.addressRate = .unlimited
            configuration.codeMissRate = .unlimited
            configuration.authFailureRate = .unlimited
        }
        defer { open.stop() }
        let campaign = try limited.createCampaign(stock: 10_000_000, perUserLimit: 1)

        /// 16 connections, each claiming for a new user in a closed loop for `seconds`.
        func run(_ node: TestNode, tag: String, seconds: Double) -> (count: Int, latencies: [Double]) {
            let latencies = Locked<[Double]>([])
            _ = ConcurrentRun.run(threads: 16, timeoutSeconds: 60) { thread in
                let client = node.client()
                defer { client.close() }
                var mine: [Double] = []
                let start = Date()
                while Date().timeIntervalSince(start) < seconds {
                    let user = "\(tag)-\(thread)-\(mine.count)"
                    guard let outcome = try? node.timedClaim(campaignId: campaign, userId: user, requestId: user, on: client),
                        outcome.status == 201
                    else { continue }
                    mine.append(outcome.latencySeconds)
                }
                latencies.withLock { $0 += mine }
            }
            return (latencies.current.count, latencies.current)
        }
        _ = run(limited, tag: "warm-on", seconds: 0.3)
        _ = run(open, tag: "warm-off", seconds: 0.3)
        var on: [Double] = [], off: [Double] = []
        let rounds = 4, seconds = 1.0
        for round in 0..<rounds {
            on += run(limited, tag: "on\(round)", seconds: seconds).latencies
            off += run(open, tag: "off\(round)", seconds: seconds).latencies
        }
        let total = Double(rounds) * seconds
        let onRate = Double(on.count) / total, offRate = Double(off.count) / total
        let onP99 = AbuseLimitTests.p99(on), offP99 = AbuseLimitTests.p99(off)
        print(String(format: "FIGURE: claims/s with limits on %.0f, off %.0f (ratio %.3f); claim p99 on %.2f ms, off %.2f ms (16 connections, %d × %.1f s alternating, debug build)",
                     onRate, offRate, onRate / offRate, onP99 * 1000, offP99 * 1000, rounds, seconds))
        // Generous: the machine is shared; the printed figures are the measurement.
        #expect(onRate >= 0.75 * offRate)
        #expect(onP99 <= 2 * offP99 + 0.005)

        // The limiter's own cost per claim: one bucket per distinct user.
        let limiter = RateLimiter<String>(capacity: 100_000)
        let limit = RateLimit(perSecond: 10, burst: 60)
        let count = 200_000
        let start = Date()
        for index in 0..<count { _ = limiter.take("user-\(index)", limit: limit) }
        let nanos = Date().timeIntervalSince(start) / Double(count) * 1e9
        print(String(format: "FIGURE: per-user claim limiter %.0f ns per attempt (debug build, %d distinct users, %d buckets held)", nanos, count, limiter.count))
        #expect(limiter.count <= 100_000)
    }
}
