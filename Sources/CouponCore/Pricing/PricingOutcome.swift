/// The result of pricing one coupon against one order: a quote, or why it cannot be used.
public enum PricingOutcome: Sendable, Equatable, Hashable {
    case usable(PricingQuote)
    case unusable(PricingRefusal)

    public var quote: PricingQuote? {
        if case .usable(let quote) = self { return quote }
        return nil
    }

    public var refusal: PricingRefusal? {
        if case .unusable(let refusal) = self { return refusal }
        return nil
    }
}

/// A usable coupon's effect: `finalPrice = order.amount + order.shippingFee - discount`,
/// never negative; `giftSku` is set for gift coupons.
public struct PricingQuote: Sendable, Equatable, Hashable {
    public var discount: Int64
    public var finalPrice: Int64
    public var giftSku: String?

    public init(discount: Int64, finalPrice: Int64, giftSku: String? = nil) {
        self.discount = discount
        self.finalPrice = finalPrice
        self.giftSku = giftSku
    }
}

/// Why a coupon does not apply to an order; the raw value is the API's reason code.
public enum PricingRefusal: String, Sendable, Equatable, Hashable, CaseIterable {
    /// The items subtotal is below the coupon's threshold.
    case belowThreshold = "below_threshold"
    /// The order's business line or store is outside the coupon's scope.
    case outOfScope = "out_of_scope"
    /// The order is in another currency than the template.
    case currencyMismatch = "currency_mismatch"
    /// The order's amounts are negative or beyond `CouponCore.maxOrderAmount`.
    case invalidOrder = "invalid_order"
    /// The coupon would take nothing off this order (free shipping on a 0 fee, a percentage
    /// that rounds to 0, cash on a 0 order): using it would burn it for nothing.
    case noBenefit = "no_benefit"
}
