import Foundation
import HTTPServer
import Testing

import ServiceTestSupport

extension ClaimPathTests {
    /// Guarantee 3 across a Redis crash under the shipped durability (`appendfsync always`).
    @Suite struct RedisRestart {
        @Test func everyAnsweredGrantSurvivesARedisKill() throws {
            let node = try TestNode.start(appendFsyncAlways: true)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 100_000, perUserLimit: 1)

            let threads = 6
            let loadSeconds = 3.0, killAt = 1.0, outageSeconds = 0.5, clientTimeout = 3.0
            let outcomes = Locked<[(at: Double, outcome: ClaimOutcome)]>([])
            let failures = Locked<[String]>([])
            let started = Date()
            let restarted = Locked<Double?>(nil)
            let chaos = Thread {
                Thread.sleep(forTimeInterval: killAt)
                node.redis.kill()
                Thread.sleep(forTimeInterval: outageSeconds)
                do { try node.redis.restart() } catch { failures.withLock { $0.append("restart: \(error)") } }
                restarted.withLock { $0 = Date().timeIntervalSince(started) }
            }
            chaos.start()
            let finished = ConcurrentRun.run(threads: threads, timeoutSeconds: 60) { thread in
                let client = node.client(timeoutSeconds: clientTimeout)
                defer { client.close() }
                var index = 0
                while Date().timeIntervalSince(started) < loadSeconds {
                    let user = "t\(thread)-\(index)"
                    let sent = Date()
                    do {
                        let outcome = try node.timedClaim(campaignId: campaign, userId: user, requestId: "\(user)-req", on: client)
                        outcomes.withLock { $0.append((sent.timeIntervalSince(started), outcome)) }
                    } catch {
                        let waited = Date().timeIntervalSince(sent)
                        failures.withLock { $0.append("\(user): \(error) after \(String(format: "%.2f", waited)) s") }
                        client.close()
                    }
                    index += 1
                }
            }
            #expect(finished)
            #expect(TestEnvironmentWait.until(seconds: 15) { restarted.current != nil })
            let all = outcomes.current
            let failed = failures.current
            let granted = all.filter { $0.outcome.status == 201 }
            let unavailable = all.filter { $0.outcome.status == 503 }
            let maxLatency = all.map(\.outcome.latencySeconds).max() ?? 0
            let backAt = restarted.current ?? loadSeconds
            print(
                "[redis-restart] \(all.count) claims: \(granted.count) × 201, \(unavailable.count) × 503, "
                    + "other \(all.count - granted.count - unavailable.count), client errors \(failed.count); "
                    + "max latency \(String(format: "%.3f", maxLatency)) s; Redis back at \(String(format: "%.2f", backAt)) s")
            #expect(failed.isEmpty, "\(failed.prefix(5))")  // no hang, no dropped connection
            #expect(maxLatency < clientTimeout)
            #expect(all.filter { ![201, 503].contains($0.outcome.status) }.map(\.outcome.status) == [])
            #expect(unavailable.count > 0)
            #expect(unavailable.filter { $0.outcome.retryAfter == nil }.count == 0)
            #expect(unavailable.filter { $0.outcome.code != "unavailable" }.count == 0)
            #expect(granted.filter { $0.at < killAt }.count > 0)

            // The node serves grants again once Redis is back.
            var after: ClaimOutcome?
            let client = node.client(timeoutSeconds: clientTimeout)
            defer { client.close() }
            let served = TestEnvironmentWait.until(seconds: 10) {
                after = try? node.timedClaim(campaignId: campaign, userId: "after-restart", requestId: "after-restart", on: client)
                return after?.status == 201
            }
            #expect(served, "last answer: \(String(describing: after?.status)) \(after.map { String(decoding: $0.body, as: UTF8.self) } ?? "")")
            let answered = granted.compactMap(\.outcome.code) + [after?.code].compactMap { $0 }
            #expect(Set(answered).count == answered.count)

            // Redis kept every answered grant; PostgreSQL gets all of Redis's grants.
            let issued = try #require(try node.redisMeta(campaign, "issued").flatMap(Int.init))
            #expect(issued >= answered.count)
            #expect(try node.redisStock(campaign) == 100_000 - Int64(issued))
            #expect(try node.waitForFlush(campaignId: campaign, expected: issued, seconds: 30))
            let stored = Set(try node.storedCoupons(campaign).map(\.code))
            #expect(stored.count == issued)
            let lost = answered.filter { !stored.contains($0) }
            #expect(lost == [], "\(lost.count) answered grants missing from PostgreSQL")
            #expect(try node.issuedEventCount(campaign) == issued)
        }
    }
}

/// Polls `probe` until it holds or `seconds` pass.
enum TestEnvironmentWait {
    static func until(seconds: Double, interval: Double = 0.05, _ probe: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if probe() { return true }
            Thread.sleep(forTimeInterval: interval)
        } while Date() < deadline
        return false
    }
}
