/// What checkout asks to price: the items subtotal and shipping fee in minor units, and
/// where the order is placed. `currency`, when given, must match the template's.
public struct Order: Sendable, Equatable, Hashable {
    /// Items subtotal, minor units; thresholds compare against this.
    public var amount: Int64
    public var shippingFee: Int64
    public var businessLine: String?
    public var storeId: String?
    public var currency: String?

    public init(amount: Int64, shippingFee: Int64 = 0, businessLine: String? = nil, storeId: String? = nil, currency: String? = nil) {
        self.amount = amount
        self.shippingFee = shippingFee
        self.businessLine = businessLine
        self.storeId = storeId
        self.currency = currency
    }

    /// Amounts pricing can compute with exactly: each in 0...`CouponCore.maxOrderAmount`.
    public var hasValidAmounts: Bool {
        (0...CouponCore.maxOrderAmount).contains(amount) && (0...CouponCore.maxOrderAmount).contains(shippingFee)
    }
}
