import CouponCore
import CouponService
import Foundation
import PostgresClient
import RedisClient
import ServiceTestSupport
import Testing

@testable import Finance

/// Statistics and the reconciliation report against a real node, Redis and PostgreSQL; every
/// figure is compared with a count the test makes itself from the raw tables.
@Suite(.serialized) struct ReconciliationTests {
    /// A flash sale (10 units, 14 users), then — through the checkout routes — redemptions,
    /// refunds with restore, a second redemption, a lock and release, a restore past the
    /// window and expiries; stats and report equal counts the test makes from raw tables.
    @Test func scriptedDayMatchesIndependentCounts() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let codes = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<14)
        #expect(codes.count == 10)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 10))

        // Checkout through the real routes: redemptions, refunds with restore, a second
        // redemption, a lock released, a restore after the window (restored + expired), and
        // expiries noticed on access.
        let postgres = try node.postgres()
        func checkout(_ index: Int, _ action: String, _ fields: String) throws {
            let body = #"{"user_id":"u\#(index)",\#(fields)}"#
            let response = try node.request("POST", "/v1/coupons/\(codes[index])/\(action)", as: .checkout, body: body)
            #expect(response.status == (action == "redeem" && fields.contains("late") ? 409 : 200), "\(action) \(response.bodyString)")
        }
        func redeem(_ index: Int, order: String, amount: Int64) throws {
            try checkout(index, "redeem", #""order_id":"\#(order)","order_amount":\#(amount),"shipping_fee":0"#)
        }
        func pastWindow(_ index: Int) throws {
            try postgres.execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [codes[index]])
        }
        for index in 0..<6 { try redeem(index, order: "o\(index)", amount: 25_000 + Int64(index) * 1_000) }
        for index in [1, 2] { try checkout(index, "restore", #""order_id":"o\#(index)","reason":"refund""#) }
        try redeem(1, order: "o1b", amount: 40_000)
        try checkout(6, "lock", #""order_id":"o6","order_amount":25000,"shipping_fee":0,"ttl_seconds":60"#)
        try checkout(6, "release", #""order_id":"o6""#)
        try pastWindow(5)
        try checkout(5, "restore", #""order_id":"o5","reason":"cancelled""#)
        for index in [7, 8] {
            try pastWindow(index)
            try redeem(index, order: "late\(index)", amount: 25_000)
        }

        // Stats: each figure from its own raw query.
        let stats = try FinanceFixture.getJSON(node, "/v1/campaigns/\(campaign)/stats")
        #expect(try FinanceFixture.getJSON(node, "/v1/campaigns/\(campaign)/stats", as: .admin) == stats)
        func count(_ sql: String) throws -> Int64 { try postgres.execute(sql, [campaign]).first!.int64(0) }
        let face = try count("SELECT t.face_value FROM campaigns c JOIN templates t ON t.id = c.template_id WHERE c.id = $1")
        let redeemed = try count("SELECT count(*) FROM coupons WHERE campaign_id = $1 AND state = 'redeemed'")
        let redemptionOrders = try count("SELECT COALESCE(sum(order_amount), 0) FROM coupons WHERE campaign_id = $1 AND state = 'redeemed'")
        let discount = try count("SELECT COALESCE(sum(discount), 0) FROM coupons WHERE campaign_id = $1 AND state = 'redeemed'")
        #expect(stats.int("stock") == 10)
        #expect(stats.int("remaining") == 0)
        #expect(stats.int("issued") == 10)
        #expect(stats.int("flushed") == (try count("SELECT count(*) FROM coupons WHERE campaign_id = $1")))
        #expect(stats.int("not_yet_flushed") == 0)
        #expect(stats.int("redeemed") == redeemed)
        #expect(redeemed == 4)
        #expect(stats.int("restored") == (try count("SELECT count(*) FROM coupon_events WHERE campaign_id = $1 AND event = 'restored'")))
        #expect(stats.int("expired") == (try count("SELECT count(*) FROM coupons WHERE campaign_id = $1 AND state = 'expired'")))
        #expect(stats.int("outstanding") == (try count("SELECT count(*) FROM coupons WHERE campaign_id = $1 AND state IN ('issued', 'locked')")))
        #expect(stats.int("outstanding_face_value") == 3 * face)
        #expect(stats.int("discount") == discount)
        #expect(stats.int("order_revenue") == redemptionOrders)
        #expect(stats["redemption_rate"]?.stringValue == Ratio.format(redeemed, 10))
        #expect(stats["roi"]?.stringValue == Ratio.format(redemptionOrders, discount))
        #expect(stats["currency"]?.stringValue == "CNY")
        let claims = stats["claims"]!
        #expect(claims.int("granted") == 10)
        #expect(claims.int("sold_out") == 4)
        #expect(claims.int("limit_reached") == 0)

        // Report, in UTC and in a zone with a half-hour offset, against the Swift replay.
        let events = try FinanceFixture.rawEvents(postgres)
        for zone in ["UTC", "Asia/Kolkata"] {
            let from = FinanceFixture.date(offsetDays: -1, zone), to = FinanceFixture.date(offsetDays: 1, zone)
            let report = try FinanceFixture.getJSON(
                node, "/v1/reports/reconciliation?from=\(from)&to=\(to)&tz=\(zone)&campaign_id=\(campaign)")
            #expect(report["tz"]?.stringValue == zone)
            let item = report["period"]!["campaigns"]![0]!
            #expect(item.int("campaign_id") == campaign)
            #expect(item["currency"]?.stringValue == "CNY")
            let days = item["days"]!.arrayValue!
            #expect(days.count == 3)
            var totalIssued: Int64 = 0
            for day in days {
                let date = day["date"]!.stringValue!
                let expected = FinanceFixture.independentDay(events, campaignId: campaign, date: date, timeZone: zone)
                #expect(FinanceFixture.dayFields.map { day.int($0) ?? -1 } == expected, "\(zone) \(date)")
                totalIssued += day.int("issued") ?? 0
            }
            #expect(totalIssued == 10)
            let totals = item["totals"]!
            #expect(totals.int("redeemed") == 7)
            #expect(totals.int("restored") == 3)
            #expect(totals.int("expired") == 3)
            #expect(totals.int("discount") == 21_000)
            #expect(totals.int("discount_restored") == 9_000)
            #expect(totals.int("opening_liability") == 0)
            #expect(totals.int("closing_liability") == 3 * face)
            let checks = report["checks"]!
            #expect(checks["passed"] == .bool(true), "\(checks)")
        }

        // The CSV, parsed by Python's csv module, carries the same numbers as the JSON.
        let from = FinanceFixture.date(offsetDays: -1), to = FinanceFixture.date(offsetDays: 1)
        let json = try FinanceFixture.getJSON(node, "/v1/reports/reconciliation?from=\(from)&to=\(to)")
        let csv = try node.request("GET", "/v1/reports/reconciliation?from=\(from)&to=\(to)&format=csv", as: .finance)
        #expect(csv.status == 200)
        #expect(csv.headers.values(for: "content-type").first?.hasPrefix("text/csv") == true)
        let text = csv.bodyString
        #expect(text.hasSuffix("\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let rows = try FinanceFixture.parseWithPython(csv.body)
        #expect(rows.first == ReconciliationReport.csvColumns)
        var fromJSON: [[String]] = []
        for item in json["period"]!["campaigns"]!.arrayValue! {
            for day in item["days"]!.arrayValue! {
                fromJSON.append(
                    [String(item.int("campaign_id")!), item["currency"]!.stringValue!, day["date"]!.stringValue!]
                        + FinanceFixture.dayFields.map { String(day.int($0)!) })
            }
        }
        #expect(Array(rows.dropFirst()) == fromJSON)
        #expect(fromJSON.count == 3)
    }

    /// A report for yesterday is the same bytes before and after today's claims, redemptions,
    /// restores and expiries — as JSON (period section) and as CSV.
    @Test func yesterdayIsByteIdenticalAfterTodaysActivity() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 20, perUserLimit: 1)
        let early = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<6, prefix: "y")
        #expect(try node.waitForFlush(campaignId: campaign, expected: 6))
        let postgres = try node.postgres()
        // Yesterday's sale: move these grants' issue time to yesterday 10:00 UTC.
        let yesterday = FinanceFixture.date(offsetDays: -1)
        try postgres.execute(
            "UPDATE coupons SET issued_at = ($1::date + time '10:00') AT TIME ZONE 'UTC' WHERE code = ANY($2::text[])",
            [yesterday, "{" + early.joined(separator: ",") + "}"])
        try postgres.execute(
            "UPDATE coupon_events SET at = ($1::date + time '10:00') AT TIME ZONE 'UTC' WHERE event = 'issued' AND code = ANY($2::text[])",
            [yesterday, "{" + early.joined(separator: ",") + "}"])
        try FinanceFixture.recordCheckoutEventInSQL(
            postgres, code: early[0], event: "redeemed", at: "\(yesterday)T12:00:00Z", orderId: "y0", orderAmount: 30_000, discount: 3_000)
        try FinanceFixture.recordCheckoutEventInSQL(
            postgres, code: early[1], event: "redeemed", at: "\(yesterday)T13:00:00Z", orderId: "y1", orderAmount: 31_000, discount: 3_000)
        try FinanceFixture.recordCheckoutEventInSQL(postgres, code: early[2], event: "expired", at: "\(yesterday)T23:59:59.999Z")

        let path = "/v1/reports/reconciliation?from=\(yesterday)&to=\(yesterday)"
        let beforeJSON = try node.request("GET", path + "&checks=false", as: .finance).body
        let beforeCSV = try node.request("GET", path + "&format=csv", as: .finance).body
        let beforeFull = try node.request("GET", path, as: .finance).body

        // Today: more claims, a redemption of yesterday's coupon, a refund, an expiry.
        let today = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<5, prefix: "t")
        #expect(try node.waitForFlush(campaignId: campaign, expected: 11))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try FinanceFixture.recordCheckoutEventInSQL(
            postgres, code: early[3], event: "redeemed", at: RFC3339.format(epochMs: now), orderId: "t3", orderAmount: 29_000, discount: 3_000)
        try FinanceFixture.recordCheckoutEventInSQL(
            postgres, code: early[0], event: "restored", at: RFC3339.format(epochMs: now + 1), orderId: "y0", orderAmount: 30_000, discount: 3_000)
        try FinanceFixture.recordCheckoutEventInSQL(postgres, code: today[0], event: "expired", at: RFC3339.format(epochMs: now + 2))

        let afterJSON = try node.request("GET", path + "&checks=false", as: .finance).body
        let afterCSV = try node.request("GET", path + "&format=csv", as: .finance).body
        let afterFull = try node.request("GET", path, as: .finance).body
        #expect(afterJSON == beforeJSON)
        #expect(afterCSV == beforeCSV)
        // With checks, the period section is the same prefix; only the checks follow it.
        #expect(beforeFull.starts(with: beforeJSON.dropLast()))
        #expect(afterFull.starts(with: beforeJSON.dropLast()))

        let day = try JSONParser.parse(afterJSON)["period"]!["campaigns"]![0]!["days"]![0]!
        let face = try postgres.execute("SELECT face_value FROM coupons WHERE code = $1", [early[0]]).first!.int64(0)
        #expect(day.int("issued") == 6)
        #expect(day.int("redeemed") == 2)
        #expect(day.int("expired") == 1)
        #expect(day.int("opening_liability") == 0)
        #expect(day.int("closing_liability") == 3 * face)
    }

    @Test func badInputIsRefused() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 1, perUserLimit: 1)
        func status(_ query: String, as role: Role = .finance) throws -> Int {
            try node.request("GET", "/v1/reports/reconciliation?" + query, as: role).status
        }
        #expect(try status("from=2024-01-01&to=2024-01-02") == 200)
        #expect(try status("from=2024-01-01&to=2024-01-02&tz=Europe/Berlin") == 200)
        #expect(try status("from=2024-01-01&to=2024-01-02&tz=Mars/Olympus") == 400)
        #expect(try status("from=2024-01-01&to=2024-01-02&tz=") == 400)
        #expect(try status("from=2024-02-30&to=2024-03-01") == 400)
        #expect(try status("from=2024-1-1&to=2024-01-02") == 400)
        #expect(try status("to=2024-01-02") == 400)
        #expect(try status("from=2024-01-03&to=2024-01-02") == 400)
        #expect(try status("from=2020-01-01&to=2024-01-02") == 400)
        #expect(try status("from=2024-01-01&to=2024-01-02&format=xml") == 400)
        #expect(try status("from=2024-01-01&to=2024-01-02&campaign_id=abc") == 400)
        #expect(try status("from=2024-01-01&to=2024-01-02&campaign_id=99999") == 404)
        #expect(try status("from=2024-01-01&to=2024-01-02", as: .admin) == 403)
        #expect(try status("from=2024-01-01&to=2024-01-02", as: .issue) == 403)
        #expect(try node.request("GET", "/v1/campaigns/\(campaign)/stats", as: .checkout).status == 403)
        #expect(try node.request("GET", "/v1/campaigns/99999/stats", as: .finance).status == 404)
        #expect(try node.request("GET", "/v1/campaigns/\(campaign)/stats", as: nil).status == 401)
    }
}
