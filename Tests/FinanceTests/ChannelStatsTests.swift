import CouponCore
import CouponService
import Foundation
import HTTPServer
import PostgresClient
import ServiceTestSupport
import TestSupport
import Testing

@testable import Finance

/// Channels (issue 12): a claim names one of the configured channels (else 400, nothing
/// changes), bulk jobs record `bulk`, and the campaign stats and the reconciliation report
/// break issued, redeemed, rate, discount and ROI down by channel — equal to raw SQL counts.
@Suite(.serialized) struct ChannelStatsTests {
    @Test func statsByChannelEqualRawSQLCounts() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        let plan: [(channel: String?, users: Range<Int>)] = [("app", 0..<12), ("sms", 12..<20), ("wechat", 20..<23), (nil, 23..<25)]
        var codes: [Int: String] = [:]
        for (channel, users) in plan {
            for user in users {
                let field = channel.map { #","channel":"\#($0)""# } ?? ""
                let response = try node.request(
                    "POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: #"{"user_id":"u\#(user)","request_id":"r\#(user)"\#(field)}"#)
                #expect(response.status == 201, "\(response.bodyString)")
                codes[user] = TestNode.code(of: response)
            }
        }
        // Unknown or malformed channels: 400 and nothing granted.
        for bad in [#""channel":"fax""#, #""channel":7"#, #""channel":"APP""#] {
            let response = try node.request("POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: #"{"user_id":"x","request_id":"x",\#(bad)}"#)
            #expect(response.status == 400, "\(bad)")
            #expect(TestNode.code(of: response) == "invalid_request")
        }
        #expect(try node.redisMeta(campaign, "issued") == "25")

        // A bulk job of 5 members records `bulk`.
        let client = BlockingHTTPClient(host: "127.0.0.1", port: node.port, timeoutSeconds: 30)
        defer { client.close() }
        let upload = try client.send(
            method: "POST", path: "/v1/campaigns/\(campaign)/bulk-grants",
            headers: [("Authorization", "Bearer \(node.keys[.admin]!)"), ("Content-Type", "text/plain")],
            body: Array((30..<35).map { "u\($0)" }.joined(separator: "\n").utf8))
        #expect(upload.status == 202, "\(upload.bodyString)")
        #expect(try node.waitForFlush(campaignId: campaign, expected: 30, seconds: 60))

        // Redeem some: 4 app, 2 sms, 1 unnamed, with different orders.
        for (user, amount) in [(0, 25_000), (1, 26_000), (2, 40_000), (3, 30_000), (12, 50_000), (13, 22_000), (23, 31_000)] {
            let body = #"{"user_id":"u\#(user)","order_id":"o\#(user)","order_amount":\#(amount),"shipping_fee":0}"#
            let response = try node.request("POST", "/v1/coupons/\(codes[user]!)/redeem", as: .checkout, body: body)
            #expect(response.status == 200, "\(response.bodyString)")
        }
        let restore = try node.request(
            "POST", "/v1/coupons/\(codes[1]!)/restore", as: .checkout, body: #"{"user_id":"u1","order_id":"o1","reason":"refund"}"#)
        #expect(restore.status == 200, "\(restore.bodyString)")

        // Raw SQL, independent of the stats' query: coupons by channel, redeemed by row state,
        // discount and revenue of the rows still redeemed.
        let postgres = try node.postgres()
        var raw: [String: (issued: Int64, redeemed: Int64, discount: Int64, revenue: Int64)] = [:]
        for row in try postgres.execute(
            """
            SELECT COALESCE(channel, 'none'), count(*), count(*) FILTER (WHERE state = 'redeemed'),
                   COALESCE(sum(discount) FILTER (WHERE state = 'redeemed'), 0), COALESCE(sum(order_amount) FILTER (WHERE state = 'redeemed'), 0)
            FROM coupons WHERE campaign_id = $1 GROUP BY 1
            """, [campaign])
        {
            raw[try row.string(0)] = (try row.int64(1), try row.int64(2), try row.int64(3), try row.int64(4))
        }
        #expect(raw.mapValues(\.issued) == ["app": 12, "sms": 8, "wechat": 3, "none": 2, "bulk": 5])
        #expect(raw.mapValues(\.redeemed) == ["app": 3, "sms": 2, "wechat": 0, "none": 1, "bulk": 0])

        let stats = try JSONParser.parse(node.request("GET", "/v1/campaigns/\(campaign)/stats", as: .finance).body)
        let byChannel = stats["by_channel"]?.arrayValue ?? []
        #expect(byChannel.compactMap { $0["channel"]?.stringValue } == ["app", "bulk", "none", "sms", "wechat"])
        for item in byChannel {
            let name = item["channel"]?.stringValue ?? ""
            guard let expected = raw[name] else { continue }
            #expect(item["issued"]?.int64Value == expected.issued, "\(name)")
            #expect(item["redeemed"]?.int64Value == expected.redeemed, "\(name)")
            #expect(item["discount"]?.int64Value == expected.discount, "\(name)")
            #expect(item["order_revenue"]?.int64Value == expected.revenue, "\(name)")
            #expect(item["redemption_rate"]?.stringValue == Ratio.format(expected.redeemed, expected.issued), "\(name)")
            #expect(item["roi"]?.stringValue == Ratio.format(expected.revenue, expected.discount), "\(name)")
        }
        #expect(byChannel.reduce(0) { $0 + ($1["issued"]?.int64Value ?? 0) } == stats["flushed"]?.int64Value)
        #expect(byChannel.reduce(0) { $0 + ($1["redeemed"]?.int64Value ?? 0) } == stats["redeemed"]?.int64Value)
        #expect(byChannel.reduce(0) { $0 + ($1["discount"]?.int64Value ?? 0) } == stats["discount"]?.int64Value)

        // The report (today, UTC): events in the period by channel; the app channel has 4
        // redeemed events (one restored later, its discount handed back).
        let today = String(RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000)).prefix(10))
        let report = try JSONParser.parse(
            node.request("GET", "/v1/reports/reconciliation?from=\(today)&to=\(today)&campaign_id=\(campaign)&checks=false", as: .finance).body)
        let reported = report["period"]?["campaigns"]?.arrayValue?.first?["by_channel"]?.arrayValue ?? []
        let app = reported.first { $0["channel"]?.stringValue == "app" }
        #expect(app?["issued"]?.int64Value == 12)
        #expect(app?["redeemed"]?.int64Value == 4)
        #expect(app?["discount"]?.int64Value == raw["app"]?.discount)
        #expect(app?["order_revenue"]?.int64Value == raw["app"]?.revenue)
        #expect(reported.compactMap { $0["issued"]?.int64Value }.reduce(0, +) == 30)
        let csv = try node.request(
            "GET", "/v1/reports/reconciliation?from=\(today)&to=\(today)&campaign_id=\(campaign)&format=csv&section=channels", as: .finance)
        #expect(csv.status == 200)
        let lines = csv.bodyString.split(separator: "\r\n")
        #expect(lines.first == "campaign_id,currency,channel,issued,redeemed,redemption_rate,discount,order_revenue,roi")
        #expect(lines.count == 6)
        #expect(lines.contains { $0.hasPrefix("\(campaign),") && $0.contains(",bulk,5,0,0.0000,0,0,") })
    }
}
