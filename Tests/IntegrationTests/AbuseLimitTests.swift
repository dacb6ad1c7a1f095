import CouponCore
import CouponService
import Foundation
import HTTPServer
import RiskControl
import ServiceTestSupport
import TestSupport
import Testing

/// Risk control against real servers: a user flooding claims gets 429 without costing the
/// others latency; code guessing on redeem gets 429; unknown and foreign codes answer alike.
@Suite(.serialized) struct AbuseLimitTests {
    static func p99(_ latencies: [Double]) -> Double {
        let sorted = latencies.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func metric(_ node: TestNode, _ line: String) throws -> Int? {
        let text = try node.request("GET", "/metrics", as: nil).bodyString
        return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    /// Other users claim from 4 threads for `seconds`; with `abuser`, one more user sends 300
    /// claims/s meanwhile. Returns the others' latencies and the abuser's outcomes.
    static func phase(
        _ node: TestNode, campaign: Int64, tag: String, seconds: Double, abuser: Bool
    ) -> (others: [ClaimOutcome], abuse: [ClaimOutcome]) {
        let others = Locked<[ClaimOutcome]>([])
        let abuse = Locked<[ClaimOutcome]>([])
        let threads = abuser ? 5 : 4
        _ = ConcurrentRun.run(threads: threads, timeoutSeconds: 60) { thread in
            let client = node.client()
            defer { client.close() }
            let start = Date()
            var sent = 0
            while Date().timeIntervalSince(start) < seconds {
                if thread == 4 {
                    // 300 claims/s, each a new request by the same user.
                    let due = start.addingTimeInterval(Double(sent) / 300)
                    if due > Date() { Thread.sleep(until: due) }
                    if let outcome = try? node.timedClaim(campaignId: campaign, userId: "abuser", requestId: "\(tag)-a\(sent)", on: client) {
                        abuse.withLock { $0.append(outcome) }
                    }
                } else {
                    // Others: 200 claims/s per thread, each a new user (open loop, so p99 is latency, not saturation).
                    let due = start.addingTimeInterval(Double(sent) / 200)
                    if due > Date() { Thread.sleep(until: due) }
                    let user = "\(tag)-u\(thread)-\(sent)"
                    if let outcome = try? node.timedClaim(campaignId: campaign, userId: user, requestId: user, on: client) {
                        others.withLock { $0.append(outcome) }
                    }
                }
                sent += 1
            }
        }
        return (others.current, abuse.current)
    }

    @Test func aUserAt300ClaimsPerSecondIsLimitedAndOthersAreUnaffected() throws {
        let node = try TestNode.start(flusher: false)  // the claim path alone
        defer { node.stop() }
        let rate = node.configuration.claimUserRate
        #expect(rate == RateLimit(perSecond: 10, burst: 60))
        let campaign = try node.createCampaign(stock: 1_000_000, perUserLimit: 1)

        // Alternating runs without and with the abuser, so machine noise hits both alike.
        var quiet: (others: [ClaimOutcome], abuse: [ClaimOutcome]) = ([], [])
        var loud = quiet
        let seconds = 1.5
        let started = Date()
        for round in 0..<2 {
            let without = Self.phase(node, campaign: campaign, tag: "quiet\(round)", seconds: seconds / 2, abuser: false)
            quiet.others += without.others
            let with = Self.phase(node, campaign: campaign, tag: "loud\(round)", seconds: seconds / 2, abuser: true)
            loud.others += with.others
            loud.abuse += with.abuse
        }

        let elapsed = Date().timeIntervalSince(started)  // the bucket refills during the quiet runs too
        // The abuser: one grant, a few limit_reached, then 429 with Retry-After (even though also
        // at the per-user limit), never more attempts through than the bucket allows.
        let abuse = loud.abuse
        let passed = abuse.filter { $0.status != 429 }
        let limited = abuse.filter { $0.status == 429 }
        #expect(abuse.count >= Int(seconds * 300 * 0.8), "the abuser sent only \(abuse.count) claims")
        #expect(passed.filter { $0.status == 201 }.count == 1)
        #expect(passed.allSatisfy { $0.status == 201 || $0.code == "limit_reached" })
        #expect(passed.count <= Int(rate.burst + rate.perSecond * elapsed) + 1)
        #expect(limited.count == abuse.count - passed.count)
        #expect(limited.allSatisfy { $0.code == "rate_limited" && $0.retryAfter == "1" })
        #expect(try Self.metric(node, "coupond_claims_total{outcome=\"rate_limited\"}") == limited.count)
        #expect(try Self.metric(node, "coupond_rate_limited_total{limiter=\"claim_user\"}") == limited.count)

        // Everyone else: every claim granted, p99 within 2× of the run without the abuser.
        for phase in [quiet, loud] {
            #expect(phase.others.count > 100)
            #expect(phase.others.allSatisfy { $0.status == 201 }, "\(phase.others.first { $0.status != 201 }.map { "\($0.status) \($0.code ?? "")" } ?? "")")
        }
        let before = Self.p99(quiet.others.map(\.latencySeconds)), during = Self.p99(loud.others.map(\.latencySeconds))
        print(String(format: "FIGURE: other users' claim p99 without abuser %.2f ms (%d claims), with a 300/s abuser %.2f ms (%d claims); abuser: %d sent, %d answered 429",
                     before * 1000, quiet.others.count, during * 1000, loud.others.count, abuse.count, limited.count))
        #expect(during <= 2 * before + 0.005, "others' p99 went from \(before) s to \(during) s")
    }

    /// A campaign's own per-user rate (`claim-user-rate-campaigns`) replaces the global one for it only.
    @Test func perCampaignClaimRate() throws {
        let first = try TestNode.start(flusher: false)
        defer { first.stop() }
        let strict = try first.createCampaign(stock: 100, perUserLimit: 50)
        let normal = try first.createCampaign(stock: 100, perUserLimit: 50)
        let node = try TestNode.start(redis: first.redis, flusher: false, conninfo: first.conninfo) {
            $0.claimUserRateByCampaign = [strict: RateLimit(perSecond: 0.01, burst: 2)]
        }
        defer { node.stop() }
        let client = node.client()
        defer { client.close() }
        let strictStatuses = try (0..<4).map { try node.claim(campaignId: strict, userId: "u", requestId: "s\($0)", on: client).status }
        let normalStatuses = try (0..<4).map { try node.claim(campaignId: normal, userId: "u", requestId: "n\($0)", on: client).status }
        #expect(strictStatuses == [201, 201, 429, 429])
        #expect(normalStatuses == [201, 201, 201, 201])
    }

    /// 2,000 random codes from one key: `not_found` until the code-miss bucket is empty, then 429.
    @Test func codeGuessingIsLimited() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let limit = node.configuration.codeMissRate
        #expect(limit == RateLimit(perSecond: 10, burst: 100))
        let client = node.client()
        defer { client.close() }
        let order = #"{"user_id":"guesser","order_id":"o-1","order_amount":30000}"#
        let start = Date()
        var statuses: [Int: Int] = [:]
        var firstLimited: HTTPClientResponse?
        for _ in 0..<2_000 {
            let response = try node.send(on: client, "POST", "/v1/coupons/\(CouponCode.random().value)/redeem", as: .checkout, body: order)
            statuses[response.status, default: 0] += 1
            if response.status == 429, firstLimited == nil { firstLimited = response }
        }
        let elapsed = Date().timeIntervalSince(start)
        let misses = statuses[404] ?? 0
        print(String(format: "FIGURE: 2000 random codes on redeem in %.2f s: %d answered 404, %d answered 429", elapsed, misses, statuses[429] ?? 0))
        #expect(misses >= Int(limit.burst))
        #expect(misses <= Int(limit.burst + limit.perSecond * elapsed) + 1)
        #expect((statuses[429] ?? 0) == 2_000 - misses)
        #expect(firstLimited?.headers["retry-after"] == "1")
        #expect(firstLimited.flatMap(TestNode.code(of:)) == "rate_limited")
        #expect(try Self.metric(node, "coupond_rate_limited_total{limiter=\"code_miss\"}") == statuses[429])
    }

    /// Another user's code answers exactly like a code that does not exist: status, body and time.
    @Test func foreignAndUnknownCodesAreIndistinguishable() throws {
        let node = try TestNode.start { $0.codeMissRate = .unlimited }
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        var foreign: [String] = []
        for index in 0..<20 {
            let response = try node.claim(campaignId: campaign, userId: "owner\(index)", requestId: "r\(index)")
            foreign.append(try #require(TestNode.code(of: response)))
        }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 20))
        let client = node.client()
        defer { client.close() }
        let order = #"{"user_id":"thief","order_id":"o-1","order_amount":30000}"#
        func redeem(_ code: String) throws -> (HTTPClientResponse, Double) {
            let start = Date()
            let response = try node.send(on: client, "POST", "/v1/coupons/\(code)/redeem", as: .checkout, body: order)
            return (response, Date().timeIntervalSince(start))
        }
        for _ in 0..<20 { _ = try redeem(CouponCode.random().value) }  // warm-up
        var unknown: [(HTTPClientResponse, Double)] = [], other: [(HTTPClientResponse, Double)] = []
        for index in 0..<300 {
            unknown.append(try redeem(CouponCode.random().value))
            other.append(try redeem(foreign[index % foreign.count]))
        }
        #expect(Set(unknown.map(\.0.status) + other.map(\.0.status)) == [404])
        #expect(Set(unknown.map(\.0.body) + other.map(\.0.body)).count == 1)
        #expect(Set((unknown + other).map { $0.0.headers.map { "\($0.name): \($0.value)" }.joined(separator: "|") }).count == 1)
        let unknownMedian = Self.median(unknown.map(\.1)), foreignMedian = Self.median(other.map(\.1))
        print(String(format: "FIGURE: redeem 404 median latency: unknown code %.3f ms, another user's code %.3f ms (300 each, interleaved)",
                     unknownMedian * 1000, foreignMedian * 1000))
        #expect(abs(unknownMedian - foreignMedian) <= max(0.00005, 0.15 * max(unknownMedian, foreignMedian)))
        // And the owner still redeems it.
        let owned = #"{"user_id":"owner0","order_id":"o-1","order_amount":30000}"#
        #expect(try node.request("POST", "/v1/coupons/\(foreign[0])/redeem", as: .checkout, body: owned).status == 200)
    }
}
