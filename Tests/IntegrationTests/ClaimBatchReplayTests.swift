import CouponCore
import Foundation
import HTTPServer
import RedisClient
import Testing

import ServiceTestSupport

/// Batched claims decide exactly as single claims (issue 9 §3): one workload (users, request
/// ids, order within each campaign) replayed against a node with `--claim-batch-max 1` and one
/// with 64, each on its own Redis and database, gives the same answer to every request and the
/// same Redis counters.
@Suite(.serialized) struct ClaimBatchReplayTests {
    struct Claim {
        let campaign: Int  // index into the node's campaigns
        let user: String
        let request: String
        let tags: [String]
    }

    /// 1,500 claims on four campaigns: contended stock with limit 2 and sell-out, an eligibility
    /// rule, a campaign not yet open, and a campaign whose fixed validity has ended; with retries
    /// (same user, same request id) and request ids reused by another user.
    static func workload() -> [Claim] {
        var random = SeededRandom(seed: 9)
        var claims: [Claim] = []
        var granted: [(Int, String, String)] = []
        for index in 0..<1_500 {
            let roll = random.next() % 100
            if roll < 10, let earlier = granted.randomElement(using: &random) {  // retry of an earlier request
                claims.append(Claim(campaign: earlier.0, user: earlier.1, request: earlier.2, tags: []))
                continue
            }
            if roll < 13, let earlier = granted.randomElement(using: &random) {  // request id of someone else
                claims.append(Claim(campaign: earlier.0, user: "intruder\(index)", request: earlier.2, tags: []))
                continue
            }
            let campaign = roll < 70 ? 0 : roll < 85 ? 1 : roll < 93 ? 2 : 3
            let user = "u\(random.next() % 300)"
            let tags = campaign == 1 && random.next() % 2 == 0 ? ["vip"] : []
            let claim = Claim(campaign: campaign, user: user, request: "r\(index)", tags: tags)
            claims.append(claim)
            granted.append((campaign, user, claim.request))
        }
        return claims
    }

    /// One answer, with the coupon code replaced by the order in which this run first saw it, so
    /// runs compare (codes are random) while a replay must still return its original coupon.
    struct Answer: Equatable, CustomStringConvertible {
        let status: Int
        let outcome: String
        var description: String { "\(status) \(outcome)" }
    }

    static func run(batchMax: Int, claims: [Claim]) throws -> (answers: [Answer], redis: [String], evalCalls: Int64) {
        let node = try TestNode.start(appendFsyncAlways: false, loops: 1) {
            $0.claimBatchMax = batchMax
            $0.soldOutMarkMs = 0  // every claim reaches a claim script: the comparison is of the scripts
            $0.claimSeries = false
        }
        defer { node.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let contended = try node.createCampaign(stock: 400, perUserLimit: 2)
        let eligible = try node.createCampaign(stock: 60, perUserLimit: 1, extra: #","eligibility":{"required_tags":["vip","staff"]}"#)
        let later = try node.createCampaign(
            stock: 10, perUserLimit: 1, claimStart: RFC3339.format(epochMs: now + 3_600_000), claimEnd: RFC3339.format(epochMs: now + 7_200_000))
        let expired = try node.createCampaign(stock: 10, perUserLimit: 1)
        let campaigns = [contended, eligible, later, expired]
        let redis = try node.redisClient()
        _ = try redis.command(["HSET", .string("cp:{c:\(expired)}:meta"), "vtype", "fixed", "vfrom", "0", .string("vuntil"), .string(String(now - 1_000))])

        // One claim first, so the claim script is loaded: a NOSCRIPT retry re-sends its call after
        // claims pipelined behind it, which would reorder the first claims of a fresh Redis.
        let warmUp = try node.createCampaign(stock: 1, perUserLimit: 1)
        #expect(try node.claim(campaignId: warmUp, userId: "warm", requestId: "warm").status == 201)

        let client = node.client(timeoutSeconds: 20)
        defer { client.close() }
        var answers: [Answer] = []
        var codeOrder: [String: Int] = [:]
        let key = node.keys[.issue]!
        for start in stride(from: 0, to: claims.count, by: 60) {  // 60 pipelined: one loop turn, under the node's 64
            let chunk = claims[start..<min(start + 60, claims.count)]
            var bytes: [UInt8] = []
            for claim in chunk {
                let tags = claim.tags.isEmpty ? "" : #","tags":[\#(claim.tags.map { "\"\($0)\"" }.joined(separator: ","))]"#
                let body = #"{"user_id":"\#(claim.user)","request_id":"\#(claim.request)"\#(tags)}"#
                bytes += Array(
                    ("POST /v1/campaigns/\(campaigns[claim.campaign])/claims HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(key)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
            }
            try client.sendRaw(bytes)
            for _ in chunk {
                let response = try client.readResponse()
                var outcome = TestNode.code(of: response) ?? "?"
                if response.status == 201 {
                    let json = try JSONParser.parse(response.body)
                    let ordinal = codeOrder[outcome] ?? codeOrder.count
                    codeOrder[outcome] = ordinal
                    outcome = "coupon#\(ordinal) \(json["user_id"]?.stringValue ?? "") \(json["request_id"]?.stringValue ?? "")"
                }
                answers.append(Answer(status: response.status, outcome: outcome))
            }
        }
        var state: [String] = []
        for (index, id) in campaigns.enumerated() {
            let stock = try redis.command(["GET", .string("cp:{c:\(id)}:stock")]).string ?? "nil"
            let meta = try redis.command(["HGETALL", .string("cp:{c:\(id)}:meta")]).array?.compactMap(\.string) ?? []
            let counters = stride(from: 0, to: meta.count - 1, by: 2).filter { meta[$0] == "issued" || meta[$0].hasPrefix("out:") }
                .map { "\(meta[$0])=\(meta[$0 + 1])" }.sorted()
            let users = try redis.command(["HGETALL", .string("cp:{c:\(id)}:users")]).array?.compactMap(\.string) ?? []
            let perUser = stride(from: 0, to: users.count - 1, by: 2).map { "\(users[$0])=\(users[$0 + 1])" }.sorted()
            // Every grant reaches PostgreSQL once (the stream's length depends on flush timing, so it is not compared).
            let issued = Int(try redis.command(["HGET", .string("cp:{c:\(id)}:meta"), "issued"]).string ?? "0") ?? 0
            #expect(try node.waitForFlush(campaignId: id, expected: issued))
            let rows = try node.couponCount(campaignId: id)
            state.append("campaign \(index): stock=\(stock) rows=\(rows) \(counters.joined(separator: " ")) users=\(perUser.joined(separator: ","))")
        }
        let stats = try redis.command(["INFO", "commandstats"]).string ?? ""
        let evalCalls = stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") }
            .flatMap { line in line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int64($0) } } ?? -1
        return (answers, state, evalCalls)
    }

    @Test func batchedAndSingleClaimsAnswerTheSame() throws {
        let claims = Self.workload()
        let single = try Self.run(batchMax: 1, claims: claims)
        let batched = try Self.run(batchMax: 64, claims: claims)
        #expect(single.answers.count == claims.count)
        #expect(batched.answers.count == claims.count)
        let differing = zip(single.answers, batched.answers).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(differing.isEmpty, "\(differing.prefix(5).map { "#\($0.offset): single \($0.element.0) batched \($0.element.1)" })")
        for (a, b) in zip(single.redis, batched.redis) where a != b {
            let x = Set(a.split(separator: " ").flatMap { $0.split(separator: ",") }), y = Set(b.split(separator: " ").flatMap { $0.split(separator: ",") })
            Issue.record("Redis differs: single only \(x.subtracting(y).sorted()), batched only \(y.subtracting(x).sorted())")
        }
        // Every kind of answer occurred, so the comparison covered each rule.
        let kinds = Set(single.answers.map { $0.status == 201 ? "granted" : $0.outcome })
        #expect(kinds == ["granted", "limit_reached", "sold_out", "not_eligible", "not_started", "validity_ended", "idempotency_conflict"])
        // Batching happened: far fewer script calls than claims (the single node makes one per claim).
        print("[batch-replay] EVALSHA calls: single \(single.evalCalls), batched \(batched.evalCalls) for \(claims.count) claims")
        #expect(single.evalCalls >= Int64(claims.count) - 100)
        #expect(batched.evalCalls * 4 < single.evalCalls)
    }
}

/// A small deterministic generator (SplitMix64) so the workload is the same in every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
