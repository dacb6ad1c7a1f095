import CouponCore

/// The checkout state machine of one coupon, as a pure function of the locked row, the
/// command and the time (PostgreSQL's clock). Transitions and their events:
///
///     issued   --redeem-->          redeemed   [redeemed]
///     issued   --lock-->            locked     [locked]
///     locked   --confirm-->         redeemed   [redeemed]
///     locked   --release-->         issued     [released]
///     locked   --TTL reached-->     issued     [released, reason lock_expired]
///     redeemed --restore-->         issued     [restored]  (past valid_until: expired [restored, expired])
///     issued   --past valid_until-> expired    [expired]
///     issued   --revoke-->          revoked    [revoked, with the operator's reason]
///
/// A live lock keeps the coupon past `valid_until` until it is confirmed, released or
/// lapses. Repeating a command that already took effect for the same order answers the
/// same receipt and writes nothing.
public enum CouponLifecycle {
    /// The reason stored on the `released` event of a lock that reached its TTL.
    public static let lockExpiredReason = "lock_expired"

    public static func plan(_ command: CheckoutCommand, userId: String, coupon: CouponSnapshot, nowMs: Int64) -> LifecyclePlan {
        guard coupon.userId == userId else { return LifecyclePlan(coupon: coupon, events: [], result: .failure(.notFound)) }
        var machine = Machine(coupon: coupon, nowMs: nowMs)
        machine.settle()
        let result = machine.apply(command)
        return LifecyclePlan(coupon: machine.coupon, events: machine.events, result: result)
    }

    /// The state the coupon is in at `nowMs` once lapsed locks and expiry are applied
    /// (what the sweep would write), without writing anything.
    public static func effectiveState(
        state: CouponState, validUntilMs: Int64, lockedUntilMs: Int64?, nowMs: Int64
    ) -> CouponState {
        var state = state
        if state == .locked, let until = lockedUntilMs, nowMs >= until { state = .issued }
        if state == .issued, nowMs > validUntilMs { state = .expired }
        return state
    }

    /// Prices an issued coupon for an order at `nowMs`: the window, then scope and threshold.
    public static func price(template: CouponTemplate, validFromMs: Int64, order: Order, nowMs: Int64) -> Result<PricingQuote, CheckoutRefusal> {
        if nowMs < validFromMs { return .failure(.notYetValid) }
        switch Pricing.evaluate(template: template, order: order) {
        case .usable(let quote): return .success(quote)
        case .unusable(let refusal): return .failure(CheckoutRefusal(refusal))
        }
    }

    private struct Machine {
        var coupon: CouponSnapshot
        let nowMs: Int64
        var events: [CouponEvent] = []

        init(coupon: CouponSnapshot, nowMs: Int64) {
            self.coupon = coupon
            self.nowMs = nowMs
        }

        var giftSku: String? {
            if case .gift(_, let sku, _) = coupon.template.kind { return sku }
            return nil
        }

        /// Applies what time alone does: a lapsed lock is released, an issued coupon past
        /// its window expires.
        mutating func settle() {
            if coupon.state == .locked, let until = coupon.lockedUntilMs, nowMs >= until {
                events.append(CouponEvent(.released, order: coupon.order, reason: CouponLifecycle.lockExpiredReason))
                backToIssued()
            }
            expireIfPastWindow()
        }

        mutating func expireIfPastWindow() {
            if coupon.state == .issued && nowMs > coupon.validUntilMs {
                events.append(CouponEvent(.expired))
                coupon.state = .expired
            }
        }

        mutating func backToIssued() {
            coupon.state = .issued
            coupon.order = nil
            coupon.lockedUntilMs = nil
            coupon.redeemedAtMs = nil
        }

        func receipt(orderId: String, order: PricedOrder?, replayed: Bool) -> CheckoutReceipt {
            CheckoutReceipt(
                code: coupon.code, state: coupon.state, orderId: orderId, order: order, giftSku: order == nil ? nil : giftSku,
                lockedUntilMs: coupon.lockedUntilMs, redeemedAtMs: coupon.redeemedAtMs, replayed: replayed)
        }

        /// The refusal for a state that no command below handles.
        func refusal(for state: CouponState) -> CheckoutRefusal {
            switch state {
            case .expired: .expired
            case .revoked: .revoked
            case .redeemed: .alreadyRedeemed
            case .locked: .locked
            case .issued: .notLocked
            }
        }

        func heldBy(_ orderId: String) -> Bool { coupon.order?.orderId == orderId }

        mutating func apply(_ command: CheckoutCommand) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch command {
            case .redeem(let request): return redeem(request)
            case .lock(let request, let ttlMs): return lock(request, ttlMs: ttlMs)
            case .confirm(let orderId): return confirm(orderId)
            case .release(let orderId): return release(orderId)
            case .restore(let orderId, let reason): return restore(orderId, reason: reason)
            case .revoke(let reason): return revoke(reason: reason)
            }
        }

        func quote(_ request: CheckoutOrder) -> Result<PricedOrder, CheckoutRefusal> {
            CouponLifecycle.price(template: coupon.template, validFromMs: coupon.validFromMs, order: request.order, nowMs: nowMs).map {
                PricedOrder(
                    orderId: request.orderId, amount: request.order.amount, shippingFee: request.order.shippingFee,
                    discount: $0.discount, finalPrice: $0.finalPrice)
            }
        }

        mutating func redeem(_ request: CheckoutOrder) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch coupon.state {
            case .issued:
                switch quote(request) {
                case .failure(let refusal): return .failure(refusal)
                case .success(let priced): return markRedeemed(priced)
                }
            case .locked where heldBy(request.orderId):
                // The order's own lock: redeeming it is confirming it, at the locked price.
                guard let held = coupon.order, held.amount == request.order.amount, held.shippingFee == request.order.shippingFee
                else { return .failure(.locked) }
                return markRedeemed(held)
            case .redeemed where heldBy(request.orderId):
                return .success(receipt(orderId: request.orderId, order: coupon.order, replayed: true))
            case let state:
                return .failure(refusal(for: state))
            }
        }

        mutating func markRedeemed(_ priced: PricedOrder) -> Result<CheckoutReceipt, CheckoutRefusal> {
            coupon.state = .redeemed
            coupon.order = priced
            coupon.lockedUntilMs = nil
            coupon.redeemedAtMs = nowMs
            events.append(CouponEvent(.redeemed, order: priced))
            return .success(receipt(orderId: priced.orderId, order: priced, replayed: false))
        }

        mutating func lock(_ request: CheckoutOrder, ttlMs: Int64) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch coupon.state {
            case .issued:
                switch quote(request) {
                case .failure(let refusal): return .failure(refusal)
                case .success(let priced):
                    coupon.state = .locked
                    coupon.order = priced
                    coupon.lockedUntilMs = nowMs + ttlMs
                    events.append(CouponEvent(.locked, order: priced))
                    return .success(receipt(orderId: priced.orderId, order: priced, replayed: false))
                }
            case .locked where heldBy(request.orderId):
                return .success(receipt(orderId: request.orderId, order: coupon.order, replayed: true))
            case let state:
                return .failure(refusal(for: state))
            }
        }

        mutating func confirm(_ orderId: String) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch coupon.state {
            case .locked where heldBy(orderId):
                return markRedeemed(coupon.order!)
            case .redeemed where heldBy(orderId):
                return .success(receipt(orderId: orderId, order: coupon.order, replayed: true))
            case let state:
                return .failure(refusal(for: state))
            }
        }

        mutating func release(_ orderId: String) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch coupon.state {
            case .locked where heldBy(orderId):
                events.append(CouponEvent(.released, order: coupon.order))
                backToIssued()
                expireIfPastWindow()
                return .success(receipt(orderId: orderId, order: nil, replayed: false))
            case .issued, .expired:
                // This order holds nothing: releasing again (or after the TTL) is a no-op.
                return .success(receipt(orderId: orderId, order: nil, replayed: true))
            case let state:
                return .failure(refusal(for: state))
            }
        }

        /// Only an unused coupon can be revoked: a live lock means an order is paying with it,
        /// a redeemed one was already given. Revoking again answers the same and writes nothing.
        mutating func revoke(reason: String) -> Result<CheckoutReceipt, CheckoutRefusal> {
            switch coupon.state {
            case .issued:
                events.append(CouponEvent(.revoked, reason: reason))
                coupon.state = .revoked
                return .success(receipt(orderId: "", order: nil, replayed: false))
            case .revoked:
                return .success(receipt(orderId: "", order: nil, replayed: true))
            case let state:
                return .failure(refusal(for: state))
            }
        }

        mutating func restore(_ orderId: String, reason: String) -> Result<CheckoutReceipt, CheckoutRefusal> {
            guard coupon.state == .redeemed, heldBy(orderId), let used = coupon.order else { return .failure(.notRedeemed) }
            events.append(CouponEvent(.restored, order: used, reason: reason))
            backToIssued()
            expireIfPastWindow()
            return .success(receipt(orderId: orderId, order: used, replayed: false))
        }
    }
}
