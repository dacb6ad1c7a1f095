/// Discount math per kind, in integer minor units.
///
/// ROUNDING RULE: percent_off rounds the discount DOWN to the minor unit
/// (floor(amount × percent / 100)), so the customer gets at most 1 minor unit less than the
/// exact percentage and never more: 15% of 999 is 149 (exact 149.85).
///
/// Every discount is clamped to what it applies to (items for amount_off and percent_off,
/// shipping for free_shipping, items + shipping for cash), so the final price is never
/// negative. Orders are bounded by `CouponCore.maxOrderAmount`, which keeps every
/// intermediate product far from Int64 overflow.
extension CouponKind {
    /// Prices this kind alone (threshold and amounts; no scope or currency check).
    public func price(for order: Order) -> PricingOutcome {
        guard order.hasValidAmounts else { return .unusable(.invalidOrder) }
        guard order.amount >= threshold else { return .unusable(.belowThreshold) }
        let total = order.amount + order.shippingFee  // ≤ 2 × 10^15: no overflow
        let discount: Int64
        var giftSku: String? = nil
        switch self {
        case .amountOff(_, let amount):
            discount = min(amount, order.amount)
        case .percentOff(_, let percent, let cap):
            let rate = Int64(min(max(percent, 0), 100))
            // floor(a × p / 100) computed as (a / 100) × p + (a % 100) × p / 100: exact for a ≥ 0.
            let raw = order.amount / 100 * rate + order.amount % 100 * rate / 100
            discount = min(raw, cap ?? raw)
        case .freeShipping:
            discount = order.shippingFee
        case .gift(_, let sku, _):
            discount = 0
            giftSku = sku
        case .cash(let amount):
            discount = min(amount, total)
        }
        let clamped = max(0, discount)
        if clamped == 0 && giftSku == nil { return .unusable(.noBenefit) }
        return .usable(PricingQuote(discount: clamped, finalPrice: total - clamped, giftSku: giftSku))
    }
}
