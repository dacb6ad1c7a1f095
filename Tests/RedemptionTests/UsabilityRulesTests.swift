import CouponCore
import Foundation
import Testing

import ServiceTestSupport

/// Two rules a shopper would call wrong otherwise (issue 13): a coupon that gives nothing is
/// never used up, and a campaign never spends stock on coupons born expired.
@Suite struct UsabilityRulesTests {
    @Test func couponThatGivesNothingIsRefusedAndKept() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let free = try node.createCampaign(
            stock: 10, perUserLimit: 5,
            templateId: node.createTemplate(#"{"name":"Free shipping","currency":"CNY","kind":"free_shipping","validity":{"type":"relative","days":7}}"#))
        let code = try node.claimCode(campaign: free)
        #expect(try node.waitForFlush(campaignId: free, expected: 1))

        let nothing = try node.redeem(code, order: "o-1", amount: 5_000, shipping: 0)
        #expect(nothing.status == 409)
        #expect(nothing.errorCode == "no_benefit")
        #expect(try node.lock(code, order: "o-1", amount: 5_000).status == 200)  // lock prices with an 800 fee
        #expect(try node.orderAction(code, "release", order: "o-1").status == 200)
        #expect(try node.events(code) == ["issued", "locked:o-1:5000/800", "released:o-1:5000/800"])
        #expect(try node.couponRow(code) == "issued - -")

        let wallet = try JSONParser.parse(
            node.request("GET", "/v1/users/alice/coupons?order_amount=5000&shipping_fee=0", as: .checkout).body)
        #expect(wallet["usable"]?.arrayValue?.count == 0)
        #expect(wallet["unusable"]?.arrayValue?.first?["reason"]?.stringValue == "no_benefit")

        let worth = try node.redeem(code, order: "o-2", amount: 5_000, shipping: 600)
        #expect(worth.status == 200)
        #expect(worth["discount"]?.int64Value == 600)
    }

    @Test func campaignWhoseValidityEndsBeforeItsWindowIsRefused() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let template = try node.createTemplate(
            """
            {"name":"Ends tomorrow","currency":"CNY","kind":"cash","amount":500,
             "validity":{"type":"fixed","from":"\(RFC3339.format(epochMs: now - 86_400_000))","until":"\(RFC3339.format(epochMs: now + 86_400_000))"}}
            """)
        let body = """
            {"template_id":\(template),"name":"too long","stock":10,"per_user_limit":1,
             "claim_start":"\(RFC3339.format(epochMs: now))","claim_end":"\(RFC3339.format(epochMs: now + 2 * 86_400_000))"}
            """
        let refused = try node.request("POST", "/v1/campaigns", as: .admin, body: body)
        #expect(refused.status == 400)
        #expect(refused.bodyString.contains("validity.until"))
        // Ending with the validity is fine.
        let fits = try node.createCampaign(
            stock: 10, perUserLimit: 1, templateId: template, claimEnd: RFC3339.format(epochMs: now + 86_400_000))

        // A campaign stored before this rule (its validity already over in Redis) refuses the
        // claim instead of granting a coupon born expired; nothing moves.
        let redis = try node.redisClient()
        _ = try redis.command(["HSET", .string("cp:{c:\(fits)}:meta"), "vuntil", .string(String(now - 1_000))])
        let before = try [node.redisStock(fits), node.redisMeta(fits, "issued").flatMap { Int64($0) }]
        let claim = try node.claim(campaignId: fits, userId: "ann", requestId: "r-1")
        #expect(claim.status == 409)
        #expect(TestNode.code(of: claim) == "validity_ended")
        #expect(try [node.redisStock(fits), node.redisMeta(fits, "issued").flatMap { Int64($0) }] == before)
        #expect(try node.streamLength(fits) == 0)
        #expect(try node.redisMeta(fits, "out:validity_ended") == "1")
    }

    /// An order may name its currency; a coupon in another one is never applied to it.
    @Test func orderCurrencyMustMatchTheCoupon() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)  // the template is in CNY
        let code = try node.claimCode(campaign: campaign)
        let usd = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":25000,"currency":"USD"}"#)
        #expect(usd.status == 409)
        #expect(usd.errorCode == "currency_mismatch")
        #expect(try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":25000,"currency":"usd"}"#).status == 400)
        let wallet = try JSONParser.parse(node.request("GET", "/v1/users/alice/coupons?order_amount=25000&currency=USD", as: .checkout).body)
        #expect(wallet["unusable"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } == ["currency_mismatch"])
        #expect(try node.request("GET", "/v1/users/alice/coupons?order_amount=25000&currency=US", as: .checkout).status == 400)
        let cny = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":25000,"currency":"CNY"}"#)
        #expect(cny.status == 200)
        #expect(cny["discount"]?.int64Value == 3000)
    }
}
