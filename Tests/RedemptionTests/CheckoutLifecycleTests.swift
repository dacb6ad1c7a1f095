import CouponCore
import Foundation
import HTTPServer
import PostgresClient
import Redemption
import ServiceTestSupport
import Synchronization
import Testing

/// Two-phase use, restore and expiry against a real node; each test asserts the exact
/// `coupon_events` rows the transitions leave.
@Suite(.serialized) struct CheckoutLifecycleTests {
    /// A node with one flushed coupon of the default template for alice.
    static func nodeWithCoupon() throws -> (TestNode, String) {
        let node = try TestNode.start()
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        guard try node.waitForFlush(campaignId: campaign, expected: 1) else { throw CheckoutTestError("no flush") }
        return (node, code)
    }

    @Test func lockThenConfirm() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        let lock = try node.lock(code, order: "o-1", ttl: 60)
        #expect(lock.status == 200)
        #expect(lock["state"]?.stringValue == "locked")
        #expect(lock["discount"]?.int64Value == 3000)
        #expect(lock["final_price"]?.int64Value == 22_800)
        #expect(lock["locked_until"]?.stringValue != nil)

        let relock = try node.lock(code, order: "o-1", ttl: 60)
        #expect(relock.status == 200)
        #expect(relock.json == lock.json)
        let otherLock = try node.lock(code, order: "o-2")
        #expect(otherLock.status == 409)
        #expect(otherLock.errorCode == "locked")
        let otherRedeem = try node.redeem(code, order: "o-2")
        #expect(otherRedeem.errorCode == "locked")
        let otherConfirm = try node.orderAction(code, "confirm", order: "o-2")
        #expect(otherConfirm.errorCode == "locked")

        let confirm = try node.orderAction(code, "confirm", order: "o-1")
        #expect(confirm.status == 200)
        #expect(confirm["state"]?.stringValue == "redeemed")
        #expect(confirm["discount"]?.int64Value == 3000)
        #expect(confirm["final_price"]?.int64Value == 22_800)
        let reconfirm = try node.orderAction(code, "confirm", order: "o-1")
        #expect(reconfirm.json == confirm.json)
        // Redeeming with the same order after confirming is the same answer too.
        let redeem = try node.redeem(code, order: "o-1")
        #expect(redeem.json == confirm.json)

        #expect(try node.events(code) == ["issued", "locked:o-1:25000/3000", "redeemed:o-1:25000/3000"])
        #expect(try node.couponRow(code) == "redeemed o-1 3000")
    }

    @Test func lockThenRelease() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.lock(code, order: "o-1").status == 200)
        let release = try node.orderAction(code, "release", order: "o-1")
        #expect(release.status == 200)
        #expect(release["state"]?.stringValue == "issued")
        let again = try node.orderAction(code, "release", order: "o-1")
        #expect(again.status == 200)
        #expect(again["state"]?.stringValue == "issued")
        let confirm = try node.orderAction(code, "confirm", order: "o-1")
        #expect(confirm.status == 409)
        #expect(confirm.errorCode == "not_locked")

        #expect(try node.redeem(code, order: "o-2").status == 200)
        #expect(try node.events(code) == ["issued", "locked:o-1:25000/3000", "released:o-1:25000/3000", "redeemed:o-2:25000/3000"])
    }

    @Test func lockPastItsTTLIsReleasedAndAnotherOrderRedeems() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.lock(code, order: "o-1", ttl: 1).status == 200)
        #expect(try node.redeem(code, order: "o-2").errorCode == "locked")
        Thread.sleep(forTimeInterval: 1.2)

        let redeem = try node.redeem(code, order: "o-2", amount: 30_000, shipping: 0)
        #expect(redeem.status == 200)
        #expect(redeem["final_price"]?.int64Value == 27_000)
        let lateConfirm = try node.orderAction(code, "confirm", order: "o-1")
        #expect(lateConfirm.errorCode == "already_redeemed")
        #expect(
            try node.events(code) == [
                "issued", "locked:o-1:25000/3000", "released:o-1:25000/3000:lock_expired", "redeemed:o-2:30000/3000",
            ])
    }

    @Test func sweepReleasesLapsedLocks() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.lock(code, order: "o-1", ttl: 1).status == 200)
        #expect(try ExpirySweep.run(on: node.postgres()) == ExpirySweep.Outcome(released: 0, expired: 0))
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try ExpirySweep.run(on: node.postgres()) == ExpirySweep.Outcome(released: 1, expired: 0))
        #expect(try ExpirySweep.run(on: node.postgres()) == ExpirySweep.Outcome(released: 0, expired: 0))
        #expect(try node.couponRow(code) == "issued - -")
        #expect(try node.orderAction(code, "confirm", order: "o-1").errorCode == "not_locked")
        #expect(try node.events(code) == ["issued", "locked:o-1:25000/3000", "released:o-1:25000/3000:lock_expired"])
    }

    @Test func redeemRestoreRedeemWithANewOrder() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.redeem(code, order: "o-1").status == 200)
        let wrongOrder = try node.restore(code, order: "o-9")
        #expect(wrongOrder.status == 409)
        #expect(wrongOrder.errorCode == "not_redeemed")

        let restore = try node.restore(code, order: "o-1", reason: "order cancelled")
        #expect(restore.status == 200)
        #expect(restore["state"]?.stringValue == "issued")
        #expect(restore["discount"]?.int64Value == 3000)
        #expect(try node.couponRow(code) == "issued - -")
        let twice = try node.restore(code, order: "o-1")
        #expect(twice.errorCode == "not_redeemed")

        let second = try node.redeem(code, order: "o-2", amount: 40_000, shipping: 0)
        #expect(second.status == 200)
        #expect(second["final_price"]?.int64Value == 37_000)
        #expect(try node.redeem(code, order: "o-1").errorCode == "already_redeemed")
        #expect(
            try node.events(code) == [
                "issued", "redeemed:o-1:25000/3000", "restored:o-1:25000/3000:order cancelled", "redeemed:o-2:40000/3000",
            ])
    }

    @Test func restoreAfterValidUntilExpires() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.redeem(code, order: "o-1").status == 200)
        try node.postgres().execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [code])

        let restore = try node.restore(code, order: "o-1")
        #expect(restore.status == 200)
        #expect(restore["state"]?.stringValue == "expired")
        #expect(try node.couponRow(code) == "expired - -")
        #expect(try node.redeem(code, order: "o-2").errorCode == "expired")
        #expect(try node.events(code) == ["issued", "redeemed:o-1:25000/3000", "restored:o-1:25000/3000:refund", "expired"])
    }

    @Test func expiryIsCheckedOnAccess() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        try node.postgres().execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [code])
        let redeem = try node.redeem(code, order: "o-1")
        #expect(redeem.status == 409)
        #expect(redeem.errorCode == "expired")
        #expect(try node.lock(code, order: "o-1").errorCode == "expired")
        #expect(try node.couponRow(code) == "expired - -")
        #expect(try node.events(code) == ["issued", "expired"])
        #expect(try ExpirySweep.run(on: node.postgres()) == ExpirySweep.Outcome(released: 0, expired: 0))
    }

    @Test func sweepExpiresInBatchesAndLeavesValidAndRedeemedCoupons() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 10)
        let codes = try (0..<5).map { _ in try node.claimCode(campaign: campaign) }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 5))
        #expect(try node.redeem(codes[0], order: "o-1").status == 200)
        // All but the last are past their window; the redeemed one stays redeemed.
        try node.postgres().execute(
            "UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = ANY($1::text[])",
            ["{\(codes[0...3].joined(separator: ","))}"])

        let connection = try node.postgres()
        #expect(try ExpirySweep.runBatch(limit: 2, on: connection) == ExpirySweep.Outcome(released: 0, expired: 2))
        #expect(try ExpirySweep.run(batchSize: 2, on: connection) == ExpirySweep.Outcome(released: 0, expired: 1))
        #expect(try node.events(codes[0]) == ["issued", "redeemed:o-1:25000/3000"])
        for code in codes[1...3] {
            #expect(try node.events(code) == ["issued", "expired"])
            #expect(try node.couponRow(code) == "expired - -")
        }
        #expect(try node.events(codes[4]) == ["issued"])
    }

    @Test func lapsedLockPastItsWindowIsReleasedThenExpired() throws {
        let (node, code) = try Self.nodeWithCoupon()
        defer { node.stop() }
        #expect(try node.lock(code, order: "o-1", ttl: 1).status == 200)
        try node.postgres().execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [code])
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try ExpirySweep.run(on: node.postgres()) == ExpirySweep.Outcome(released: 1, expired: 1))
        #expect(try node.events(code) == ["issued", "locked:o-1:25000/3000", "released:o-1:25000/3000:lock_expired", "expired"])
        #expect(try node.couponRow(code) == "expired - -")
    }
}

@Suite struct ExpirySweeperTests {
    @Test func sweeperThreadExpiresPeriodicallyAndStops() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))
        try node.postgres().execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [code])

        let sweeper = ExpirySweeper(conninfo: node.conninfo, intervalSeconds: 0.1, log: { _, _ in }).start()
        let deadline = Date().addingTimeInterval(10)
        while sweeper.expired.load(ordering: .relaxed) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        sweeper.stop()
        #expect(sweeper.expired.load(ordering: .relaxed) == 1)
        #expect(sweeper.released.load(ordering: .relaxed) == 0)
        #expect(try node.events(code) == ["issued", "expired"])
    }
}
