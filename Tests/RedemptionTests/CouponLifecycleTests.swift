import CouponCore
import Redemption
import Testing

/// The checkout state machine without a database: every rule with a fixed clock.
@Suite struct CouponLifecycleTests {
    static let template = CouponTemplate(
        name: "Spend 200 save 30", currency: "CNY", kind: .amountOff(threshold: 20_000, amount: 3000), validity: .relative(days: 7))
    static let now: Int64 = 1_000_000
    static let order = CheckoutOrder(orderId: "o-1", order: Order(amount: 25_000, shippingFee: 800))
    static let priced = PricedOrder(orderId: "o-1", amount: 25_000, shippingFee: 800, discount: 3000, finalPrice: 22_800)

    static func coupon(_ state: CouponState = .issued, order: PricedOrder? = nil, lockedUntil: Int64? = nil, validUntil: Int64 = now + 10_000)
        -> CouponSnapshot
    {
        CouponSnapshot(
            code: "C1", campaignId: 7, userId: "alice", state: state, validFromMs: now - 10_000, validUntilMs: validUntil,
            faceValue: 3000, template: template, order: order, lockedUntilMs: lockedUntil)
    }

    func plan(_ command: CheckoutCommand, _ coupon: CouponSnapshot, user: String = "alice", at nowMs: Int64 = now) -> LifecyclePlan {
        CouponLifecycle.plan(command, userId: user, coupon: coupon, nowMs: nowMs)
    }

    func kinds(_ plan: LifecyclePlan) -> [String] {
        plan.events.map { [$0.kind.rawValue, $0.order?.orderId, $0.reason].compactMap { $0 }.joined(separator: ":") }
    }

    @Test func redeemIssued() throws {
        let result = plan(.redeem(Self.order), Self.coupon())
        #expect(kinds(result) == ["redeemed:o-1"])
        #expect(result.coupon.state == .redeemed)
        #expect(result.coupon.order == Self.priced)
        #expect(result.coupon.redeemedAtMs == Self.now)
        #expect(try result.result.get() == CheckoutReceipt(code: "C1", state: .redeemed, orderId: "o-1", order: Self.priced, redeemedAtMs: Self.now))
    }

    @Test func anotherUsersCouponIsNotFoundAndUntouched() {
        let result = plan(.redeem(Self.order), Self.coupon(), user: "mallory")
        #expect(result.result == .failure(.notFound))
        #expect(result.events.isEmpty)
        #expect(result.coupon == Self.coupon())
    }

    @Test func refusalsWriteNothing() {
        let below = CheckoutOrder(orderId: "o-1", order: Order(amount: 19_999))
        #expect(plan(.redeem(below), Self.coupon()).result == .failure(.belowThreshold))
        #expect(plan(.redeem(below), Self.coupon()).events.isEmpty)
        #expect(plan(.redeem(Self.order), Self.coupon(), at: Self.now - 10_001).result == .failure(.notYetValid))
        #expect(plan(.confirm(orderId: "o-1"), Self.coupon()).result == .failure(.notLocked))
        #expect(plan(.restore(orderId: "o-1", reason: "refund"), Self.coupon()).result == .failure(.notRedeemed))
        #expect(plan(.redeem(Self.order), Self.coupon(.revoked)).result == .failure(.revoked))
    }

    @Test func pastTheWindowExpiresOnAccessWhateverTheCommand() {
        let coupon = Self.coupon(validUntil: Self.now - 1)
        for command in [CheckoutCommand.redeem(Self.order), .lock(Self.order, ttlMs: 1000), .confirm(orderId: "o-1")] {
            let result = plan(command, coupon)
            #expect(result.result == .failure(.expired))
            #expect(kinds(result) == ["expired"])
            #expect(result.coupon.state == .expired)
        }
        // The last valid millisecond is inclusive.
        #expect(plan(.redeem(Self.order), Self.coupon(validUntil: Self.now)).coupon.state == .redeemed)
    }

    @Test func lockSetsItsDeadlineAndRelockIsAReplay() throws {
        let locked = plan(.lock(Self.order, ttlMs: 5000), Self.coupon())
        #expect(kinds(locked) == ["locked:o-1"])
        #expect(locked.coupon.lockedUntilMs == Self.now + 5000)
        let again = plan(.lock(Self.order, ttlMs: 9000), locked.coupon, at: Self.now + 100)
        #expect(again.events.isEmpty)
        #expect(try again.result.get().replayed)
        #expect(try again.result.get().lockedUntilMs == Self.now + 5000)
        let other = CheckoutOrder(orderId: "o-2", order: Self.order.order)
        #expect(plan(.lock(other, ttlMs: 1000), locked.coupon).result == .failure(.locked))
        #expect(plan(.redeem(other), locked.coupon).result == .failure(.locked))
    }

    @Test func lapsedLockIsReleasedBeforeTheCommand() {
        let held = Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now)
        let other = CheckoutOrder(orderId: "o-2", order: Order(amount: 30_000))
        let result = plan(.redeem(other), held)
        #expect(kinds(result) == ["released:o-1:lock_expired", "redeemed:o-2"])
        #expect(result.coupon.order?.finalPrice == 27_000)
        // One millisecond before the deadline the lock still holds.
        #expect(plan(.redeem(other), held, at: Self.now - 1).result == .failure(.locked))
    }

    @Test func redeemingOwnLockConfirmsItAtTheLockedPrice() {
        let held = Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now + 1000)
        let same = plan(.redeem(Self.order), held)
        #expect(kinds(same) == ["redeemed:o-1"])
        let otherAmount = CheckoutOrder(orderId: "o-1", order: Order(amount: 40_000, shippingFee: 800))
        #expect(plan(.redeem(otherAmount), held).result == .failure(.locked))
    }

    @Test func liveLockHoldsPastTheWindow() {
        let held = Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now + 1000, validUntil: Self.now - 1)
        let confirm = plan(.confirm(orderId: "o-1"), held)
        #expect(kinds(confirm) == ["redeemed:o-1"])
        let release = plan(.release(orderId: "o-1"), held)
        #expect(kinds(release) == ["released:o-1", "expired"])
        #expect(release.coupon.state == .expired)
        #expect(release.coupon.order == nil)
    }

    @Test func releaseIsIdempotentButNeverTouchesAnotherOrdersLock() throws {
        #expect(try plan(.release(orderId: "o-1"), Self.coupon()).result.get().replayed)
        let held = Self.coupon(.locked, order: Self.priced, lockedUntil: Self.now + 1000)
        #expect(plan(.release(orderId: "o-2"), held).result == .failure(.locked))
        #expect(plan(.release(orderId: "o-1"), Self.coupon(.redeemed, order: Self.priced)).result == .failure(.alreadyRedeemed))
    }

    @Test func restoreGivesBackOrExpires() throws {
        let used = Self.coupon(.redeemed, order: Self.priced)
        let restored = plan(.restore(orderId: "o-1", reason: "refund"), used)
        #expect(kinds(restored) == ["restored:o-1:refund"])
        #expect(restored.coupon.state == .issued)
        #expect(restored.coupon.order == nil)
        #expect(try restored.result.get().order == Self.priced)
        let late = plan(.restore(orderId: "o-1", reason: "refund"), Self.coupon(.redeemed, order: Self.priced, validUntil: Self.now - 1))
        #expect(kinds(late) == ["restored:o-1:refund", "expired"])
        #expect(late.coupon.state == .expired)
        #expect(plan(.restore(orderId: "o-2", reason: "refund"), used).result == .failure(.notRedeemed))
    }

    @Test func effectiveState() {
        func state(_ stored: CouponState, lockedUntil: Int64? = nil, validUntil: Int64 = Self.now + 1) -> CouponState {
            CouponLifecycle.effectiveState(state: stored, validUntilMs: validUntil, lockedUntilMs: lockedUntil, nowMs: Self.now)
        }
        #expect(state(.issued) == .issued)
        #expect(state(.issued, validUntil: Self.now - 1) == .expired)
        #expect(state(.locked, lockedUntil: Self.now + 1) == .locked)
        #expect(state(.locked, lockedUntil: Self.now) == .issued)
        #expect(state(.locked, lockedUntil: Self.now, validUntil: Self.now - 1) == .expired)
        #expect(state(.redeemed, validUntil: Self.now - 1) == .redeemed)
    }
}
