import Testing

@testable import CouponCore

/// Cases the kind table leaves out: above-threshold gift and free shipping, huge shipping,
/// and which refusal wins when several apply.
@Suite struct PricingEdgeTests {
    static let huge = CouponCore.maxOrderAmount

    static let cases: [(CouponKind, Int64, Int64, PricingOutcome)] = [
        (.gift(threshold: 10000, sku: "GIFT-MUG", giftValue: 1500), 10001, 0, .usable(PricingQuote(discount: 0, finalPrice: 10001, giftSku: "GIFT-MUG"))),
        (.gift(threshold: 0, sku: "GIFT-MUG", giftValue: 1500), huge, huge, .usable(PricingQuote(discount: 0, finalPrice: 2 * huge, giftSku: "GIFT-MUG"))),
        (.freeShipping(threshold: 5000), 5001, 800, .usable(PricingQuote(discount: 800, finalPrice: 5001))),
        (.freeShipping(threshold: 0), 0, huge, .usable(PricingQuote(discount: huge, finalPrice: 0))),
        (.amountOff(threshold: 3000, amount: 3000), 3000, 0, .usable(PricingQuote(discount: 3000, finalPrice: 0))),
        (.percentOff(threshold: 0, percent: 20, cap: 5000), 0, 0, .unusable(.noBenefit)),
        (.percentOff(threshold: 0, percent: 10, cap: nil), 5, 0, .unusable(.noBenefit)),  // 10% of 5 fen rounds to 0
        (.amountOff(threshold: 0, amount: 1), 0, 800, .unusable(.noBenefit)),  // amount off never touches shipping
        (.gift(threshold: 0, sku: "GIFT-MUG", giftValue: 1500), 0, 0, .usable(PricingQuote(discount: 0, finalPrice: 0, giftSku: "GIFT-MUG"))),
        (.percentOff(threshold: 0, percent: 20, cap: 1), 5, 0, .usable(PricingQuote(discount: 1, finalPrice: 4))),
        (.cash(amount: 1), 0, 1, .usable(PricingQuote(discount: 1, finalPrice: 0))),
    ]

    @Test(arguments: 0..<cases.count)
    func edge(_ index: Int) {
        let (kind, amount, shipping, expected) = Self.cases[index]
        #expect(kind.price(for: Order(amount: amount, shippingFee: shipping)) == expected)
    }

    @Test func scopeIsCheckedBeforeThreshold() {
        let template = CouponTemplate(
            name: "S1", currency: "CNY", kind: .amountOff(threshold: 20000, amount: 3000), scope: CouponScope(storeIds: ["S1"]),
            validity: .relative(days: 7))
        #expect(Pricing.evaluate(template: template, order: Order(amount: 1, storeId: "S2")) == .unusable(.outOfScope))
        #expect(Pricing.evaluate(template: template, order: Order(amount: 1, storeId: "S1")) == .unusable(.belowThreshold))
    }
}
