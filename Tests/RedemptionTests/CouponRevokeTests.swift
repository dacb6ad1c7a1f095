import CouponCore
import Foundation
import Redemption
import Testing

import ServiceTestSupport

/// Revoke: an operator withdraws an unused coupon for good.
extension CouponLifecycleTests {
    @Test func revokeIssuedOnceThenReplays() throws {
        let first = plan(.revoke(reason: "fraud"), Self.coupon())
        #expect(kinds(first) == ["revoked:fraud"])
        #expect(first.coupon.state == .revoked)
        #expect(try first.result.get().state == .revoked)
        let again = plan(.revoke(reason: "fraud"), first.coupon)
        #expect(kinds(again) == [])
        #expect(try again.result.get().replayed)
    }

    @Test func revokeRefusesUsedHeldOrLapsedCoupons() {
        #expect(plan(.revoke(reason: "x"), Self.coupon(.redeemed, order: Self.priced)).result == .failure(.alreadyRedeemed))
        #expect(plan(.revoke(reason: "x"), Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now + 1)).result == .failure(.locked))
        // Past its window it expires first; expired coupons are not revoked.
        let lapsed = plan(.revoke(reason: "x"), Self.coupon(validUntil: Self.now - 1))
        #expect(lapsed.result == .failure(.expired))
        #expect(kinds(lapsed) == ["expired"])
        // A lapsed lock is released first, then the coupon can be revoked.
        let released = plan(.revoke(reason: "x"), Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now))
        #expect(kinds(released) == ["released:o-1:lock_expired", "revoked:x"])
    }
}

@Suite struct CouponRevokeTests {
    @Test func revokeWritesItsEventAndTheCouponLeavesTheWallet() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let kept = try node.claimCode(campaign: campaign)
        // Revoked before the flusher wrote it: written first, in the same transaction.
        let code = try node.claimCode(campaign: campaign)

        let revoked = try node.request("POST", "/v1/coupons/\(code)/revoke", as: .admin, body: #"{"user_id":"alice","reason":"mistaken grant"}"#)
        #expect(revoked.status == 200)
        let body = try JSONParser.parse(revoked.body)
        #expect(body["state"]?.stringValue == "revoked")
        #expect(body["order_id"] == nil)
        #expect(try node.events(code) == ["issued", "revoked:mistaken grant"])
        // Again: the same answer, nothing written.
        #expect(try node.request("POST", "/v1/coupons/\(code)/revoke", as: .admin, body: #"{"user_id":"alice","reason":"mistaken grant"}"#).status == 200)
        #expect(try node.events(code) == ["issued", "revoked:mistaken grant"])

        let redeem = try node.redeem(code, order: "o-1")
        #expect(redeem.status == 409)
        #expect(redeem.errorCode == "revoked")
        let wallet = try JSONParser.parse(node.request("GET", "/v1/users/alice/coupons?order_amount=25000", as: .checkout).body)
        #expect(wallet["usable"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == [kept])
        #expect(wallet["unusable"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } == ["revoked"])

        // Only admins revoke; another user's code is not found; a used coupon cannot be revoked.
        #expect(try node.request("POST", "/v1/coupons/\(kept)/revoke", as: .checkout, body: #"{"user_id":"alice","reason":"x"}"#).status == 403)
        #expect(try node.request("POST", "/v1/coupons/\(kept)/revoke", as: .admin, body: #"{"user_id":"bob","reason":"x"}"#).status == 404)
        #expect(try node.request("POST", "/v1/coupons/\(kept)/revoke", as: .admin, body: #"{"user_id":"alice"}"#).status == 400)
        #expect(try node.redeem(kept, order: "o-2").status == 200)
        let late = try node.request("POST", "/v1/coupons/\(kept)/revoke", as: .admin, body: #"{"user_id":"alice","reason":"x"}"#)
        #expect(late.status == 409)
        #expect(TestNode.code(of: late) == "already_redeemed")

        #expect(try node.waitForFlush(campaignId: campaign, expected: 2))
        let stats = try JSONParser.parse(node.request("GET", "/v1/campaigns/\(campaign)/stats", as: .finance).body)
        #expect(stats["revoked"]?.int64Value == 1)
        #expect(stats["outstanding"]?.int64Value == 0)
    }
}
