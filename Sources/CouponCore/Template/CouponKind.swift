/// What a coupon does, with the amounts that define it (minor units of the template's
/// currency). Thresholds compare against the order's items subtotal, inclusively.
public enum CouponKind: Sendable, Equatable, Hashable {
    /// Spend at least `threshold`, save `amount`.
    case amountOff(threshold: Int64, amount: Int64)
    /// `percent` (1...100) off the items subtotal, at most `cap` when set.
    case percentOff(threshold: Int64, percent: Int, cap: Int64?)
    /// Shipping fee waived.
    case freeShipping(threshold: Int64)
    /// A gift item `sku` added to the order; `giftValue` is its face value for liability reports.
    case gift(threshold: Int64, sku: String, giftValue: Int64)
    /// Stored value: `amount` off the whole order (items and shipping), no threshold.
    case cash(amount: Int64)

    /// The wire name (`amount_off`, `percent_off`, `free_shipping`, `gift`, `cash`).
    public var wireName: String {
        switch self {
        case .amountOff: return "amount_off"
        case .percentOff: return "percent_off"
        case .freeShipping: return "free_shipping"
        case .gift: return "gift"
        case .cash: return "cash"
        }
    }

    public static let wireNames = ["amount_off", "percent_off", "free_shipping", "gift", "cash"]

    /// Minimum items subtotal for the coupon to apply (0 for cash).
    public var threshold: Int64 {
        switch self {
        case .amountOff(let threshold, _), .percentOff(let threshold, _, _), .freeShipping(let threshold),
            .gift(let threshold, _, _):
            return threshold
        case .cash:
            return 0
        }
    }

    /// The problems with these amounts, named by wire field; empty when valid.
    public func validationErrors() -> [ValidationError] {
        var errors: [ValidationError] = []
        let maxAmount = CouponCore.maxTemplateAmount
        func check(_ field: String, _ value: Int64, minimum: Int64) {
            if value < minimum || value > maxAmount {
                errors.append(ValidationError(field: field, message: "must be an integer from \(minimum) to \(maxAmount) (minor units)"))
            }
        }
        switch self {
        case .amountOff(let threshold, let amount):
            check("threshold", threshold, minimum: 0)
            check("amount", amount, minimum: 1)
        case .percentOff(let threshold, let percent, let cap):
            check("threshold", threshold, minimum: 0)
            if percent < 1 || percent > 100 {
                errors.append(ValidationError(field: "percent", message: "must be an integer from 1 to 100"))
            }
            if let cap { check("cap", cap, minimum: 1) }
        case .freeShipping(let threshold):
            check("threshold", threshold, minimum: 0)
        case .gift(let threshold, let sku, let giftValue):
            check("threshold", threshold, minimum: 0)
            if !Identifier.isValid(sku) {
                errors.append(ValidationError(field: "sku", message: Identifier.rule))
            }
            check("gift_value", giftValue, minimum: 0)
        case .cash(let amount):
            check("amount", amount, minimum: 1)
        }
        return errors
    }
}
