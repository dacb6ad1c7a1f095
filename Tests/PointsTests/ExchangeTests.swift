import CouponCore
import CouponService
import Foundation
import HTTPServer
import Issuance
import Points
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Exchange campaigns against a real node, Redis and PostgreSQL (issue 11 must-show).
@Suite(.serialized) struct ExchangeTests {
    /// Creates a paused campaign, makes it an exchange campaign, resumes it.
    static func exchangeCampaign(_ node: TestNode, stock: Int64, limit: Int, cost: Int64, minimum: Int64 = 0) throws -> Int64 {
        let campaign = try node.createCampaign(stock: stock, perUserLimit: limit)
        #expect(try node.request("POST", "/v1/campaigns/\(campaign)/pause", as: .admin).status == 200)
        let (status, _) = try node.json("PUT", "/v1/campaigns/\(campaign)/points", as: .admin, body: #"{"points_cost":\#(cost),"min_points_balance":\#(minimum)}"#)
        #expect(status == 200)
        #expect(try node.request("POST", "/v1/campaigns/\(campaign)/resume", as: .admin).status == 200)
        return campaign
    }

    static func earn(_ node: TestNode, _ user: String, _ points: Int64, on client: BlockingHTTPClient) throws {
        let (status, _) = try node.json(
            "POST", "/v1/users/\(user)/points/earn", as: .points, body: #"{"points":\#(points),"reason":"seed","idempotency_key":"seed"}"#, on: client)
        #expect(status == 201)
    }

    @Test func refusalsAndRetries() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try Self.exchangeCampaign(node, stock: 1, limit: 1, cost: 100, minimum: 150)
        let client = node.client()
        defer { client.close() }
        try Self.earn(node, "u1", 120, on: client)
        try Self.earn(node, "u2", 400, on: client)
        try Self.earn(node, "u3", 400, on: client)
        func exchange(_ user: String, _ request: String) throws -> (Int, JSONValue) {
            try node.json("POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue, body: #"{"user_id":"\#(user)","request_id":"\#(request)"}"#, on: client)
        }
        #expect(try exchange("u1", "r1").1["error"]?["code"]?.stringValue == "below_min_balance")
        #expect(try exchange("nobody", "r0").1["error"]?["code"]?.stringValue == "below_min_balance")
        // A plain claim of an exchange campaign is refused: its coupons cost points.
        let plain = try node.request("POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: #"{"user_id":"u2","request_id":"p1"}"#)
        #expect(plain.status == 409)
        #expect(TestNode.code(of: plain) == "points_required")

        let (granted, grant) = try exchange("u2", "r2")
        #expect(granted == 201)
        #expect(grant["points_spent"]?.int64Value == 100)
        let code = grant["code"]?.stringValue
        // The same request again: the same coupon, no second spend.
        let (replayed, replay) = try exchange("u2", "r2")
        #expect(replayed == 201)
        #expect(replay["code"]?.stringValue == code)
        #expect(try exchange("u2", "r3").1["error"]?["code"]?.stringValue == "limit_reached")
        #expect(try exchange("u3", "r4").1["error"]?["code"]?.stringValue == "sold_out")
        // Stock comes back: the refused request stays refused (its decision is recorded), a new one is granted.
        #expect(try node.request("POST", "/v1/campaigns/\(campaign)/stock", as: .admin, body: #"{"add":1}"#).status == 200)
        #expect(try exchange("u3", "r4").1["error"]?["code"]?.stringValue == "sold_out")
        #expect(try exchange("u3", "r5").0 == 201)
        // Another user reusing a request id: 422, and the points reserved for it come back.
        #expect(try exchange("u1", "r5").0 == 409)  // below the minimum: nothing reserved
        try Self.earn(node, "u4", 500, on: client)
        #expect(try exchange("u4", "r5").0 == 422)

        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(try world.waitForFlush(campaignId: campaign))
        #expect(try world.pendingReservations() == 0)
        #expect(try world.balanceOffenders() == [])
        #expect(try world.exchangeOffenders(campaignId: campaign, cost: 100) == [])
        let (_, balance) = try node.json("GET", "/v1/users/u4/points", as: .points)
        #expect(balance["balance"]?.int64Value == 500)
        let (_, u2) = try node.json("GET", "/v1/users/u2/points", as: .points)
        #expect(u2["balance"]?.int64Value == 300)

        // The finance report: movements, liability, conservation; a tampered balance is named.
        let (reportStatus, report) = try node.json("GET", "/v1/points/report", as: .finance)
        #expect(reportStatus == 200)
        let today = report["days"]?.arrayValue?.last
        #expect([today?["earned"], today?["spent"], today?["refunded"], today?["expired"]].map { $0?.int64Value } == [1420, 500, 300, 0])  // spends: r2, r3 (limit), r4 (sold out), r5 twice; refunds: r3, r4, r5 of u4
        #expect(report["outstanding"]?.int64Value == 1220)
        #expect(report["conservation"]?["ok"] == .bool(true))
        #expect(report["conservation"]?["users_checked"]?.int64Value == 4)
        // The same figures in the reconciliation report (JSON and CSV), with its points check.
        let day = String(RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000)).prefix(10))
        let reconciliation = "/v1/reports/reconciliation?from=\(day)&to=\(day)"
        let (_, full) = try node.json("GET", reconciliation, as: .finance)
        let points = full["period"]?["points"]?.arrayValue?.first
        #expect(["earned", "spent", "refunded", "expired", "adjusted", "opening_liability", "closing_liability"].map { points?[$0]?.int64Value }
            == [1420, 500, 300, 0, 0, 0, 1220])
        #expect(full["checks"]?["points_conservation"]?["passed"] == .bool(true))
        #expect(full["checks"]?["passed"] == .bool(true))
        let csv = try node.request("GET", reconciliation + "&format=csv", as: .finance).bodyString
        #expect(csv.hasSuffix("points,points,\(day),,,,,,,,0,1220,1420,500,300,0,0\r\n"))
        _ = try world.redis.command(["HINCRBY", .string(PointsKeys(userId: "u4").account("u4")), "bal", "7"])
        let (_, tampered) = try node.json("GET", "/v1/points/report", as: .finance)
        #expect(tampered["conservation"]?["offenders"]?.arrayValue?.compactMap(\.stringValue) == ["u4: redis 507, ledger + unflushed 500, events 3 of 3"])
        let (_, failed) = try node.json("GET", reconciliation, as: .finance)
        #expect(failed["checks"]?["passed"] == .bool(false))
        #expect(failed["checks"]?["points_conservation"]?["offenders"]?.arrayValue?.first?["code"]?.stringValue == "u4")
        #expect(try node.json("GET", "/v1/points/report?from=2026-13-01", as: .finance).0 == 400)
        #expect(try node.json("GET", "/v1/points/report", as: .issue).0 == 403)
    }

    /// 64 connections, 20,000 exchange attempts from 5,000 users with random balances, stock
    /// 1,000, cost 100: exactly min(stock, eligible demand) grants, every grant one spend, every
    /// spend a grant or a refund, no negative balance, ledger sums = balances, Σ spent = 100 × grants.
    @Test func exchangeFlashSale() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let cost: Int64 = 100, stock: Int64 = 1_000, users = 5_000, attempts = 20_000, connections = 64
        let campaign = try Self.exchangeCampaign(node, stock: stock, limit: 1, cost: cost)
        var generator = SystemRandomNumberGenerator()
        let balances = (0..<users).map { _ in Int64.random(in: 0...350, using: &generator) }
        let eligible = balances.filter { $0 >= cost }.count
        let seeded = ConcurrentRun.run(threads: 16) { thread in
            let client = node.client()
            defer { client.close() }
            for user in stride(from: thread, to: users, by: 16) where balances[user] > 0 {
                try? Self.earn(node, "f\(user)", balances[user], on: client)
            }
        }
        #expect(seeded)
        let statuses = Locked<[Int: Int]>([:])
        let finished = ConcurrentRun.run(threads: connections, timeoutSeconds: 180) { thread in
            let client = node.client(timeoutSeconds: 20)
            defer { client.close() }
            var mine: [Int: Int] = [:]
            for attempt in stride(from: thread, to: attempts, by: connections) {
                let user = attempt % users
                let response = try? node.send(
                    on: client, "POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue,
                    body: #"{"user_id":"f\#(user)","request_id":"a\#(attempt)"}"#)
                mine[response?.status ?? -1, default: 0] += 1
            }
            statuses.withLock { $0.merge(mine, uniquingKeysWith: +) }
        }
        #expect(finished)
        let counts = statuses.current
        #expect(counts[201] == min(Int(stock), eligible), "\(counts), eligible \(eligible)")
        #expect(counts[-1] == nil && counts[503] == nil && counts[500] == nil, "\(counts)")

        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(try world.waitForFlush(campaignId: campaign))
        #expect(try world.pendingReservations() == 0)
        #expect(try node.storedCoupons(campaign).count == min(Int(stock), eligible))
        #expect(try world.balanceOffenders() == [])
        #expect(try world.exchangeOffenders(campaignId: campaign, cost: cost) == [])
        let spent = try world.postgres.execute(
            "SELECT coalesce(-sum(points), 0)::bigint FROM points_ledger WHERE campaign_id = $1 AND kind IN ('spend', 'refund')", [campaign]
        ).first!.int64(0)
        #expect(spent == cost * Int64(min(Int(stock), eligible)))
        print("exchange flash sale: \(attempts) attempts from \(users) users (\(eligible) with ≥ \(cost) points) on \(connections) connections → answers \(counts.sorted { $0.key < $1.key }), \(try node.storedCoupons(campaign).count) coupons in PostgreSQL, Σ spent − refunded \(spent)")
    }
}
