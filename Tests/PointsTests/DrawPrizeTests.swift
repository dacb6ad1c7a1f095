import CouponCore
import CouponService
import Foundation
import HTTPServer
import Points
import PostgresClient
import Store
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Paid draws with prize coupons (issue 11), on standalone Redis and on Redis Cluster: a win
/// grants a real coupon from its tier's prize campaign (through the grant stream into
/// PostgreSQL), tier stocks are exact, every attempt costs its points once (refused attempts
/// are refunded), and a node that died between steps is finished by the recovery sweep.
@Suite(.serialized) struct DrawPrizeTests {
    @Test(arguments: RedisBackend.allCases) func paidDrawGrantsPrizeCoupons(_ backend: RedisBackend) throws {
        let node = try TestNode.start(backend: backend) { $0.pointsRecoveryGraceMs = 300 }
        defer { node.stop() }
        let redis = try BlockingRedisConnection.open(node.configuration.redisDeployment)
        let client = node.client()
        defer { client.close() }
        let gold = try node.createTemplate(), silver = try node.createTemplate()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let body = #"""
            {"name":"lucky","claim_start":"\#(RFC3339.format(epochMs: now - 60_000))","claim_end":"\#(RFC3339.format(epochMs: now + 3_600_000))",
             "attempt_limit":3,"points_cost":10,"no_prize_weight":2,
             "tiers":[{"name":"gold","template_id":\#(gold),"stock":3,"weight":1},{"name":"silver","template_id":\#(silver),"stock":10,"weight":3}]}
            """#
        let (created, draw) = try node.json("POST", "/v1/draws", as: .admin, body: body)
        #expect(created == 201)
        let drawId = draw["id"]?.int64Value ?? 0
        let prizeCampaigns = draw["prize_campaigns"]?.arrayValue?.compactMap(\.int64Value) ?? []
        #expect(prizeCampaigns.count == 2)
        #expect(draw["points_cost"]?.int64Value == 10)
        let bad = body.replacingOccurrences(of: "\"template_id\":\(gold)", with: "\"template_id\":999999")
        #expect(try node.json("POST", "/v1/draws", as: .admin, body: bad).0 == 400)

        func earn(_ user: String, _ points: Int64) throws {
            #expect(try node.json("POST", "/v1/users/\(user)/points/earn", as: .points, body: #"{"points":\#(points),"reason":"seed","idempotency_key":"s"}"#, on: client).0 == 201)
        }
        // A node that died mid-attempt: a won attempt whose points are reserved and whose draw ran
        // (random 0 selects gold), but neither finished nor claimed; and one that only reserved.
        try earn("early", 10)
        try earn("halfway", 10)
        let dead = ExchangeRequest(drawId: drawId, userId: "early", requestId: "e1")
        let reserve = Exchange.reserveCall(dead, settings: ExchangeSettings(pointsCost: 10, minPointsBalance: 0))
        _ = try redis.evalScript(PointsScripts.reserve, keys: reserve.keys, args: reserve.args)
        let drawn = try redis.evalScript(
            DrawScript.script, keys: DrawScript.keys(DrawKeys(drawId: drawId), requestId: "e1"),
            args: DrawScript.arguments(userId: "early", requestId: "e1", random: 0))
        guard case .drawn(let early)? = DrawAttempt.decision(reply: drawn, drawId: drawId, userId: "early", requestId: "e1") else {
            Issue.record("unexpected draw reply \(drawn)")
            return
        }
        #expect(early.outcomeTier == 1)
        #expect(early.prizeCampaignId == prizeCampaigns[0])
        let half = ExchangeRequest(drawId: drawId, userId: "halfway", requestId: "h1")
        let halfCall = Exchange.reserveCall(half, settings: ExchangeSettings(pointsCost: 10, minPointsBalance: 0))
        _ = try redis.evalScript(PointsScripts.reserve, keys: halfCall.keys, args: halfCall.args)

        // Thirty users with four attempts' worth of points each (the fourth is refused by the limit and refunded); demand (90) exceeds both tiers.
        var prizes: [Int64: Set<String>] = [:]
        var statuses: [Int: Int] = [:]
        var firstWin: (rid: String, user: String, code: String)?
        for n in 0..<30 { try earn("m\(n)", 40) }
        for round in 0..<4 {
            for n in 0..<30 {
                let rid = "r\(n)-\(round)"
                let (status, answer) = try node.json("POST", "/v1/draws/\(drawId)/attempts", as: .issue, body: #"{"user_id":"m\#(n)","request_id":"\#(rid)"}"#, on: client)
                statuses[status, default: 0] += 1
                if status == 201 { #expect(answer["points_spent"]?.int64Value == 10) }
                if round == 3 { #expect(answer["error"]?["code"]?.stringValue == "limit_reached") }
                if let prize = answer["prize"], let code = prize["code"]?.stringValue, let campaign = prize["campaign_id"]?.int64Value {
                    prizes[campaign, default: []].insert(code)
                    #expect(campaign == answer["prize_campaign_id"]?.int64Value)
                    if firstWin == nil { firstWin = (rid, "m\(n)", code) }
                }
            }
        }
        #expect(statuses == [201: 90, 409: 30])
        #expect(try node.json("POST", "/v1/draws/\(drawId)/attempts", as: .issue, body: #"{"user_id":"poor","request_id":"p1"}"#).1["error"]?["code"]?.stringValue == "insufficient_points")
        // A replay answers the same prize and spends nothing.
        if let firstWin {
            let (status, again) = try node.json("POST", "/v1/draws/\(drawId)/attempts", as: .issue, body: #"{"user_id":"\#(firstWin.user)","request_id":"\#(firstWin.rid)"}"#)
            #expect(status == 201)
            #expect(again["prize"]?["code"]?.stringValue == firstWin.code)
            #expect(again["points_spent"]?.int64Value == 0)
        }
        // Prize campaigns are granted by their draw only.
        let plain = try node.request("POST", "/v1/campaigns/\(prizeCampaigns[1])/claims", as: .issue, body: #"{"user_id":"m1","request_id":"x1"}"#)
        #expect(TestNode.code(of: plain) == "points_required")
        #expect(try node.json("POST", "/v1/campaigns/\(prizeCampaigns[1])/exchanges", as: .issue, body: #"{"user_id":"m1","request_id":"x2"}"#).1["error"]?["code"]?.stringValue == "not_exchange")

        // The sweep finishes the dead node's attempts; everything reaches PostgreSQL.
        let postgres = try node.postgres()
        func count(_ sql: String, _ binds: [PostgresBindable?] = []) -> Int64 {
            (try? postgres.execute(sql, binds).first?.int64(0)) ?? -1
        }
        let settled = TestEnvironment.waitUntil(seconds: 30, interval: 0.1) {
            let pending = PointsKeys.all.reduce(0) { $0 + ((try? redis.command(["ZCARD", .string($1.pending)]).int) ?? 1) }
            let unclaimed = (try? redis.command(["ZCARD", .string(DrawKeys(drawId: drawId).prizes)]).int) ?? 1
            let coupons = count("SELECT count(*) FROM coupons WHERE campaign_id = ANY($1::bigint[])", [PostgresArrayLiteral.integers(prizeCampaigns)])
            let attempts = count("SELECT count(*) FROM draw_attempts WHERE draw_id = $1", [drawId])
            return pending == 0 && unclaimed == 0 && coupons == 13 && attempts == 92
        }
        #expect(settled)
        // Exact tier stocks, each win one coupon of its tier's campaign, named by the attempt.
        let perCampaign = prizeCampaigns.map { count("SELECT count(*) FROM coupons WHERE campaign_id = $1", [$0]) }
        #expect(perCampaign == [3, 10])
        #expect(count("SELECT count(*) FROM draw_attempts WHERE draw_id = $1 AND outcome_tier > 0", [drawId]) == 13)
        #expect(prizes[prizeCampaigns[0]]?.count == 2)  // the third gold went to the dead node's attempt
        #expect(prizes[prizeCampaigns[1]]?.count == 10)
        #expect(count("SELECT count(*) FROM coupons WHERE campaign_id = $1 AND user_id = 'early' AND request_id = $2", [prizeCampaigns[0], early.prizeRequestId]) == 1)
        // Points: one spend per attempt made (92), a refund for each refused one (30 + none), and
        // Σ spent − Σ refunded = 10 × attempts drawn.
        let flushedLedger = TestEnvironment.waitUntil(seconds: 20, interval: 0.1) {
            count("SELECT count(*) FROM points_ledger WHERE draw_id = $1 AND kind = 'spend'", [drawId]) == 122
                && count("SELECT count(*) FROM points_ledger WHERE draw_id = $1 AND kind = 'refund'", [drawId]) == 30
        }
        #expect(flushedLedger)
        #expect(count("SELECT -sum(points)::bigint FROM points_ledger WHERE draw_id = $1", [drawId]) == 920)
        let (_, halfway) = try node.json("GET", "/v1/users/halfway/points", as: .points)
        #expect(halfway["balance"]?.int64Value == 0)

        // The draw's figures.
        let (_, described) = try node.json("GET", "/v1/draws/\(drawId)", as: .admin)
        let stats = described["stats"]
        #expect(stats?["attempts"]?.int64Value == 92)
        #expect(stats?["points_consumed"]?.int64Value == 920)
        #expect(stats?["no_prize"]?.int64Value == 79)
        #expect(stats?["win_rate"]?.stringValue == "0.1413")
        #expect(stats?["tiers"]?.arrayValue?.map { [$0["won"]?.int64Value, $0["left"]?.int64Value, $0["coupons"]?.int64Value] } == [[3, 0, 3], [10, 0, 10]])
        // The attempt record names its prize and recomputes.
        let (status, record) = try node.json("GET", "/v1/draws/\(early.attemptId)", as: .finance)
        #expect(status == 200)
        #expect(record["recomputed_tier"]?.int64Value == 1)
        #expect(record["prize_campaign_id"]?.int64Value == prizeCampaigns[0])
        #expect(record["prize_code"]?.stringValue?.isEmpty == false)
    }
}
