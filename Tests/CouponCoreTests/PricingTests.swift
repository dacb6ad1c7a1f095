import Testing

@testable import CouponCore

@Suite struct PricingTests {
    typealias Case = (kind: CouponKind, amount: Int64, shipping: Int64, expected: PricingOutcome)

    static func usable(_ discount: Int64, _ finalPrice: Int64, gift: String? = nil) -> PricingOutcome {
        .usable(PricingQuote(discount: discount, finalPrice: finalPrice, giftSku: gift))
    }

    static let below = PricingOutcome.unusable(.belowThreshold)
    static let huge = CouponCore.maxOrderAmount

    static let cases: [Case] = [
        // amount_off: spend 200 save 30
        (.amountOff(threshold: 20000, amount: 3000), 19999, 800, below),
        (.amountOff(threshold: 20000, amount: 3000), 20000, 800, usable(3000, 17800)),
        (.amountOff(threshold: 20000, amount: 3000), 20001, 0, usable(3000, 17001)),
        (.amountOff(threshold: 0, amount: 3000), 1000, 500, usable(1000, 500)),  // never more than the items
        (.amountOff(threshold: 0, amount: 3000), 0, 0, .unusable(.noBenefit)),  // nothing to take off
        (.amountOff(threshold: 20000, amount: 3000), huge, huge, usable(3000, 2 * huge - 3000)),
        // percent_off
        (.percentOff(threshold: 0, percent: 15, cap: nil), 999, 0, usable(149, 850)),  // 149.85 rounds down
        (.percentOff(threshold: 0, percent: 15, cap: nil), 1, 0, .unusable(.noBenefit)),  // 15% of 1 rounds to 0
        (.percentOff(threshold: 0, percent: 33, cap: nil), 101, 10, usable(33, 78)),  // 33.33
        (.percentOff(threshold: 10000, percent: 20, cap: 5000), 9999, 0, below),
        (.percentOff(threshold: 10000, percent: 20, cap: 5000), 10000, 0, usable(2000, 8000)),
        (.percentOff(threshold: 10000, percent: 20, cap: 5000), 25000, 0, usable(5000, 20000)),  // exactly at cap
        (.percentOff(threshold: 10000, percent: 20, cap: 5000), 100000, 600, usable(5000, 95600)),  // capped
        (.percentOff(threshold: 0, percent: 100, cap: nil), 12345, 600, usable(12345, 600)),  // shipping still paid
        (.percentOff(threshold: 0, percent: 15, cap: nil), huge, 0, usable(huge / 100 * 15, huge - huge / 100 * 15)),
        (.percentOff(threshold: 0, percent: 99, cap: nil), huge - 1, 0, usable(989_999_999_999_999, 10_000_000_000_000)),
        // free_shipping
        (.freeShipping(threshold: 5000), 4999, 800, below),
        (.freeShipping(threshold: 5000), 5000, 800, usable(800, 5000)),
        (.freeShipping(threshold: 0), 0, 800, usable(800, 0)),
        (.freeShipping(threshold: 0), 100, 0, .unusable(.noBenefit)),  // no shipping fee to waive
        // gift
        (.gift(threshold: 10000, sku: "GIFT-MUG", giftValue: 1500), 9999, 0, below),
        (.gift(threshold: 10000, sku: "GIFT-MUG", giftValue: 1500), 10000, 500, usable(0, 10500, gift: "GIFT-MUG")),
        // cash: whole order, no threshold
        (.cash(amount: 5000), 3000, 1000, usable(4000, 0)),
        (.cash(amount: 5000), 10000, 1000, usable(5000, 6000)),
        (.cash(amount: 5000), 0, 0, .unusable(.noBenefit)),  // nothing to pay
        (.cash(amount: 1_000_000_000_000), huge, huge, usable(1_000_000_000_000, 2 * huge - 1_000_000_000_000)),
        // invalid orders never compute
        (.cash(amount: 5000), -1, 0, .unusable(.invalidOrder)),
        (.amountOff(threshold: 0, amount: 1), 0, -1, .unusable(.invalidOrder)),
        (.amountOff(threshold: 0, amount: 1), huge + 1, 0, .unusable(.invalidOrder)),
        (.percentOff(threshold: 0, percent: 50, cap: nil), Int64.max, Int64.max, .unusable(.invalidOrder)),
    ]

    @Test(arguments: cases)
    func kindTable(_ testCase: Case) {
        let order = Order(amount: testCase.amount, shippingFee: testCase.shipping)
        #expect(testCase.kind.price(for: order) == testCase.expected)
    }

    @Test func roundingRuleNeverFavoursCustomer() {
        for amount in Int64(0)...3000 {
            for percent in [1, 7, 15, 33, 50, 99, 100] {
                let exactTimes100 = amount * Int64(percent)
                let outcome = CouponKind.percentOff(threshold: 0, percent: percent, cap: nil).price(for: Order(amount: amount))
                guard let quote = outcome.quote else {
                    // Only a discount that rounds to 0 makes the coupon useless for this order.
                    #expect(outcome == .unusable(.noBenefit) && exactTimes100 < 100, "\(amount) at \(percent)%")
                    continue
                }
                #expect(quote.discount > 0)
                #expect(quote.discount * 100 <= exactTimes100)
                #expect(exactTimes100 - quote.discount * 100 < 100)  // short by under 1 minor unit
            }
        }
    }

    static func template(_ scope: CouponScope, currency: String = "CNY") -> CouponTemplate {
        CouponTemplate(name: "t", currency: currency, kind: .amountOff(threshold: 0, amount: 100), scope: scope, validity: .relative(days: 7))
    }

    static let scopeCases: [(CouponScope, String?, String?, Bool)] = [
        (.everywhere, nil, nil, true),
        (.everywhere, "food", "s-1", true),
        (CouponScope(businessLines: ["food"]), "food", nil, true),
        (CouponScope(businessLines: ["food"]), "food", "s-9", true),
        (CouponScope(businessLines: ["food"]), "travel", "s-1", false),
        (CouponScope(businessLines: ["food"]), nil, "s-1", false),
        (CouponScope(storeIds: ["s-1", "s-2"]), "anything", "s-2", true),
        (CouponScope(storeIds: ["s-1", "s-2"]), "anything", "s-3", false),
        (CouponScope(storeIds: ["s-1"]), nil, nil, false),
        (CouponScope(businessLines: ["food", "retail"], storeIds: ["s-1"]), "retail", "s-1", true),
        (CouponScope(businessLines: ["food", "retail"], storeIds: ["s-1"]), "retail", "s-2", false),
        (CouponScope(businessLines: ["food", "retail"], storeIds: ["s-1"]), "travel", "s-1", false),
    ]

    @Test(arguments: scopeCases)
    func scope(_ scope: CouponScope, _ line: String?, _ store: String?, _ usable: Bool) {
        let outcome = Pricing.evaluate(template: Self.template(scope), order: Order(amount: 500, businessLine: line, storeId: store))
        #expect(outcome == (usable ? Self.usable(100, 400) : .unusable(.outOfScope)))
    }

    @Test func evaluateChecksOrder() {
        let template = Self.template(CouponScope(storeIds: ["s-1"]))
        #expect(Pricing.evaluate(template: template, order: Order(amount: -5, storeId: "s-2")) == .unusable(.invalidOrder))
        #expect(Pricing.evaluate(template: template, order: Order(amount: 500, storeId: "s-2", currency: "USD")) == .unusable(.currencyMismatch))
        #expect(Pricing.evaluate(template: template, order: Order(amount: 500, storeId: "s-1", currency: "CNY")) == Self.usable(100, 400))
        let threshold = CouponTemplate(name: "t", currency: "CNY", kind: .amountOff(threshold: 1000, amount: 100), scope: CouponScope(storeIds: ["s-1"]), validity: .relative(days: 1))
        #expect(Pricing.evaluate(template: threshold, order: Order(amount: 999, storeId: "s-2")) == .unusable(.outOfScope))
        #expect(Pricing.evaluate(template: threshold, order: Order(amount: 999, storeId: "s-1")) == .unusable(.belowThreshold))
        #expect(PricingRefusal.belowThreshold.rawValue == "below_threshold")
        #expect(PricingRefusal.outOfScope.rawValue == "out_of_scope")
    }

    @Test func walletRanking() {
        let entries = [
            WalletEntry(code: "C", validUntilMs: 300, outcome: Self.usable(500, 1)),
            WalletEntry(code: "X", validUntilMs: 100, outcome: .unusable(.belowThreshold)),
            WalletEntry(code: "B", validUntilMs: 200, outcome: Self.usable(500, 1)),
            WalletEntry(code: "A", validUntilMs: 200, outcome: Self.usable(500, 1)),
            WalletEntry(code: "D", validUntilMs: 100, outcome: Self.usable(900, 1)),
            WalletEntry(code: "W", validUntilMs: 100, outcome: .unusable(.outOfScope)),
            WalletEntry(code: "E", validUntilMs: 50, outcome: Self.usable(0, 1, gift: "G")),
        ]
        #expect(Pricing.rank(entries).map(\.code) == ["D", "A", "B", "C", "E", "W", "X"])
        #expect(Pricing.rank([]).isEmpty)
    }
}
