/// Prices templates against orders and orders a wallet. Pure functions of their inputs:
/// validity (is the coupon usable *now*) is the caller's check via `ValidityRule`.
public enum Pricing {
    /// Checks, in order: the order's amounts (`invalid_order`), currency when the order
    /// names one (`currency_mismatch`), scope (`out_of_scope`), then the kind's threshold
    /// and discount (see `CouponKind.price(for:)`).
    public static func evaluate(template: CouponTemplate, order: Order) -> PricingOutcome {
        guard order.hasValidAmounts else { return .unusable(.invalidOrder) }
        if let currency = order.currency, currency != template.currency { return .unusable(.currencyMismatch) }
        guard template.scope.admits(businessLine: order.businessLine, storeId: order.storeId) else {
            return .unusable(.outOfScope)
        }
        return template.kind.price(for: order)
    }

    /// Wallet order, best first: usable coupons by largest discount, then earliest
    /// `validUntilMs`, then code; unusable ones after them by earliest `validUntilMs`, then code.
    public static func rank(_ entries: [WalletEntry]) -> [WalletEntry] {
        entries.sorted(by: WalletEntry.ranksBefore)
    }
}

/// One coupon in a user's wallet, priced against the current order.
public struct WalletEntry: Sendable, Equatable, Hashable {
    public var code: String
    public var validUntilMs: Int64
    public var outcome: PricingOutcome

    public init(code: String, validUntilMs: Int64, outcome: PricingOutcome) {
        self.code = code
        self.validUntilMs = validUntilMs
        self.outcome = outcome
    }

    static func ranksBefore(_ lhs: WalletEntry, _ rhs: WalletEntry) -> Bool {
        switch (lhs.outcome.quote, rhs.outcome.quote) {
        case (.some(let left), .some(let right)) where left.discount != right.discount:
            return left.discount > right.discount
        case (.some, .none):
            return true
        case (.none, .some):
            return false
        default:
            if lhs.validUntilMs != rhs.validUntilMs { return lhs.validUntilMs < rhs.validUntilMs }
            return lhs.code.utf8.lexicographicallyPrecedes(rhs.code.utf8)
        }
    }
}
