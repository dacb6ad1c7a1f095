/// A coupon's lifecycle state as stored in `coupons.state`.
public enum CouponState: String, Sendable, Equatable, CaseIterable {
    case issued, locked, redeemed, expired, revoked
}

/// What happened to a coupon, as stored in `coupon_events.event`.
public enum CouponEventKind: String, Sendable, Equatable {
    case issued, locked, redeemed, released, restored, expired, revoked
}

/// One row to append to `coupon_events`.
public struct CouponEvent: Sendable, Equatable {
    public var kind: CouponEventKind
    public var order: PricedOrder?
    public var reason: String?

    public init(_ kind: CouponEventKind, order: PricedOrder? = nil, reason: String? = nil) {
        self.kind = kind
        self.order = order
        self.reason = reason
    }
}

/// An order a coupon is (or was) used on, with the price the coupon gave it.
public struct PricedOrder: Sendable, Equatable {
    public var orderId: String
    /// Items subtotal, minor units.
    public var amount: Int64
    public var shippingFee: Int64
    public var discount: Int64
    public var finalPrice: Int64

    public init(orderId: String, amount: Int64, shippingFee: Int64, discount: Int64, finalPrice: Int64) {
        self.orderId = orderId
        self.amount = amount
        self.shippingFee = shippingFee
        self.discount = discount
        self.finalPrice = finalPrice
    }
}
