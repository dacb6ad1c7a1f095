import CouponCore
import CouponService
import Foundation
import HTTPServer
import Points
import PostgresClient
import ServiceTestSupport
import TestSupport
import Testing

/// Revoking an unredeemed exchange coupon with `refund_points: true` gives its points back once,
/// as a `refund` ledger entry naming the coupon's campaign and request; restoring a redeemed one
/// never does (issue 11).
@Suite(.serialized) struct ExchangeRefundTests {
    @Test func revokeRefundsRestoreDoesNot() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try ExchangeTests.exchangeCampaign(node, stock: 10, limit: 2, cost: 100)
        let client = node.client()
        defer { client.close() }
        try ExchangeTests.earn(node, "ann", 300, on: client)
        func exchange(_ request: String) throws -> String {
            let (status, grant) = try node.json("POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue, body: #"{"user_id":"ann","request_id":"\#(request)"}"#, on: client)
            #expect(status == 201)
            return grant["code"]?.stringValue ?? ""
        }
        let revoked = try exchange("x1"), redeemed = try exchange("x2")
        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(try world.waitForFlush(campaignId: campaign))
        func balance() throws -> Int64? { try node.json("GET", "/v1/users/ann/points", as: .points).1["balance"]?.int64Value }
        #expect(try balance() == 100)

        // Redeemed, then restored: the coupon is back, the points stay spent.
        let order = #"{"user_id":"ann","order_id":"o1","order_amount":25000,"shipping_fee":0}"#
        #expect(try node.request("POST", "/v1/coupons/\(redeemed)/redeem", as: .checkout, body: order).status == 200)
        #expect(try node.request("POST", "/v1/coupons/\(redeemed)/restore", as: .checkout, body: #"{"user_id":"ann","order_id":"o1","reason":"refund"}"#).status == 200)
        #expect(try balance() == 100)

        // Revoked unused with refund_points: 100 back, once, however often the revoke repeats.
        #expect(try node.json("POST", "/v1/coupons/\(revoked)/revoke", as: .admin, body: #"{"user_id":"ann","reason":"fraud","refund_points":"yes"}"#).0 == 400)
        for _ in 0..<2 {
            let (status, answer) = try node.json("POST", "/v1/coupons/\(revoked)/revoke", as: .admin, body: #"{"user_id":"ann","reason":"fraud","refund_points":true}"#)
            #expect(status == 200)
            #expect(answer["state"]?.stringValue == "revoked")
            #expect(answer["points_refunded"]?.int64Value == 100)
        }
        #expect(try balance() == 200)
        // A plain coupon refunds nothing.
        let plain = try node.createCampaign(stock: 1, perUserLimit: 1)
        let claim = try node.request("POST", "/v1/campaigns/\(plain)/claims", as: .issue, body: #"{"user_id":"ann","request_id":"p1"}"#)
        let plainCode = TestNode.code(of: claim) ?? ""
        #expect(try node.waitForFlush(campaignId: plain, expected: 1))
        #expect(try node.json("POST", "/v1/coupons/\(plainCode)/revoke", as: .admin, body: #"{"user_id":"ann","reason":"x","refund_points":true}"#).1["points_refunded"]?.int64Value == 0)

        #expect(try world.waitForFlush())
        let refunds = try world.postgres.execute(
            "SELECT points, campaign_id, request_id, reason FROM points_ledger WHERE user_id = 'ann' AND kind = 'refund'")
        #expect(refunds.count == 1)
        #expect(try refunds.first.map { [String(try $0.int64(0)), String(try $0.int64(1)), try $0.string(2), try $0.string(3)] }
            == ["100", String(campaign), "x1", "revoked \(revoked)"])
        #expect(try world.balanceOffenders() == [])
        // Campaign stats: two exchanges, one refunded on revoke, 100 points consumed net.
        let (_, stats) = try node.json("GET", "/v1/campaigns/\(campaign)/stats", as: .finance)
        #expect(["points_cost", "spends", "refunds", "points_consumed"].map { stats["points"]?[$0]?.int64Value } == [100, 2, 1, 100])
        #expect(try node.json("GET", "/v1/campaigns/\(plain)/stats", as: .finance).1["points"] == nil)
    }

    /// `points_cost` and `min_points_balance` as fields of campaign creation.
    @Test func exchangeSettingsAtCreation() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1, extra: #","points_cost":50,"min_points_balance":60"#)
        #expect(throws: (any Error).self) { try node.createCampaign(stock: 5, perUserLimit: 1, extra: #","points_cost":-1"#) }
        #expect(throws: (any Error).self) { try node.createCampaign(stock: 5, perUserLimit: 1, extra: #","min_points_balance":5"#) }
        let client = node.client()
        defer { client.close() }
        try ExchangeTests.earn(node, "bea", 55, on: client)
        let plain = try node.request("POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: #"{"user_id":"bea","request_id":"p1"}"#)
        #expect(TestNode.code(of: plain) == "points_required")
        func exchange(_ request: String) throws -> (Int, JSONValue) {
            try node.json("POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue, body: #"{"user_id":"bea","request_id":"\#(request)"}"#, on: client)
        }
        #expect(try exchange("x1").1["error"]?["code"]?.stringValue == "below_min_balance")
        _ = try node.json("POST", "/v1/users/bea/points/earn", as: .points, body: #"{"points":10,"reason":"more","idempotency_key":"more"}"#, on: client)
        let (status, grant) = try exchange("x2")
        #expect(status == 201)
        #expect(grant["points_spent"]?.int64Value == 50)
        #expect(try node.json("GET", "/v1/users/bea/points", as: .points).1["balance"]?.int64Value == 15)
    }
}
