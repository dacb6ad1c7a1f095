import CouponCore

/// A coupon row locked for a checkout decision, with its template.
public struct CouponSnapshot: Sendable, Equatable {
    public var code: String
    public var campaignId: Int64
    public var userId: String
    public var state: CouponState
    public var validFromMs: Int64
    public var validUntilMs: Int64
    public var faceValue: Int64
    public var template: CouponTemplate
    /// The order holding (locked) or having used (redeemed) the coupon; nil otherwise.
    public var order: PricedOrder?
    public var lockedUntilMs: Int64?
    public var redeemedAtMs: Int64?

    public init(
        code: String, campaignId: Int64, userId: String, state: CouponState, validFromMs: Int64, validUntilMs: Int64,
        faceValue: Int64, template: CouponTemplate, order: PricedOrder? = nil, lockedUntilMs: Int64? = nil,
        redeemedAtMs: Int64? = nil
    ) {
        self.code = code
        self.campaignId = campaignId
        self.userId = userId
        self.state = state
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
        self.faceValue = faceValue
        self.template = template
        self.order = order
        self.lockedUntilMs = lockedUntilMs
        self.redeemedAtMs = redeemedAtMs
    }
}

/// An order as checkout sends it: its id plus what pricing needs.
public struct CheckoutOrder: Sendable, Equatable {
    public var orderId: String
    public var order: Order

    public init(orderId: String, order: Order) {
        self.orderId = orderId
        self.order = order
    }
}

/// What checkout asks of one coupon.
public enum CheckoutCommand: Sendable, Equatable {
    /// Use the coupon on the order now.
    case redeem(CheckoutOrder)
    /// Hold the coupon for the order while payment runs, for `ttlMs`.
    case lock(CheckoutOrder, ttlMs: Int64)
    /// Turn the order's lock into a redemption.
    case confirm(orderId: String)
    /// Give the order's lock back.
    case release(orderId: String)
    /// Give back a coupon the order redeemed (refund, cancellation).
    case restore(orderId: String, reason: String)
    /// Withdraw an unused coupon for good (an operator's decision: fraud, mistaken grant).
    case revoke(reason: String)

    /// The order the command concerns; nil for revoke, which concerns no order.
    public var orderId: String? {
        switch self {
        case .redeem(let order), .lock(let order, _): order.orderId
        case .confirm(let id), .release(let id), .restore(let id, _): id
        case .revoke: nil
        }
    }
}

/// Why checkout refuses a command; the raw value is the API's error code.
public enum CheckoutRefusal: String, Error, Sendable, Equatable, CaseIterable {
    /// Unknown code, or another user's (never revealed as existing).
    case notFound = "not_found"
    case alreadyRedeemed = "already_redeemed"
    /// Held by another order's live lock.
    case locked
    /// Confirm or release of a coupon this order does not hold.
    case notLocked = "not_locked"
    /// Restore of a coupon this order did not redeem.
    case notRedeemed = "not_redeemed"
    case notYetValid = "not_yet_valid"
    case expired
    case revoked
    case belowThreshold = "below_threshold"
    case outOfScope = "out_of_scope"
    case currencyMismatch = "currency_mismatch"
    case invalidOrder = "invalid_order"
    case noBenefit = "no_benefit"
    /// At a store: the coupon's scope does not include this store (or the key's business line).
    case notUsableHere = "not_usable_here"

    init(_ refusal: PricingRefusal) {
        switch refusal {
        case .belowThreshold: self = .belowThreshold
        case .outOfScope: self = .outOfScope
        case .currencyMismatch: self = .currencyMismatch
        case .invalidOrder: self = .invalidOrder
        case .noBenefit: self = .noBenefit
        }
    }

    /// A short explanation safe to return to the caller.
    public var message: String {
        switch self {
        case .notFound: "coupon not found"
        case .alreadyRedeemed: "the coupon was already redeemed by another order"
        case .locked: "the coupon is held by another order awaiting payment"
        case .notLocked: "the coupon is not locked for this order (a lock past its TTL is released)"
        case .notRedeemed: "the coupon is not redeemed by this order"
        case .notYetValid: "the coupon's validity window has not started"
        case .expired: "the coupon has expired"
        case .revoked: "the coupon was revoked"
        case .belowThreshold: "the order's items subtotal is below the coupon's threshold"
        case .outOfScope: "the coupon cannot be used in this business line or store"
        case .currencyMismatch: "the order's currency differs from the coupon's"
        case .invalidOrder: "the order's amounts are out of range"
        case .noBenefit: "the coupon takes nothing off this order; it is kept for a later one"
        case .notUsableHere: "the coupon cannot be used in this store"
        }
    }
}

/// A successful command's answer: the coupon after it, and the order it concerns.
public struct CheckoutReceipt: Sendable, Equatable {
    public var code: String
    public var state: CouponState
    public var orderId: String
    /// The price the coupon gives the order (redeem, lock, confirm; restore: the price given back).
    public var order: PricedOrder?
    public var giftSku: String?
    public var lockedUntilMs: Int64?
    public var redeemedAtMs: Int64?
    /// True when the command had already been applied and nothing changed.
    public var replayed: Bool

    public init(
        code: String, state: CouponState, orderId: String, order: PricedOrder? = nil, giftSku: String? = nil,
        lockedUntilMs: Int64? = nil, redeemedAtMs: Int64? = nil, replayed: Bool = false
    ) {
        self.code = code
        self.state = state
        self.orderId = orderId
        self.order = order
        self.giftSku = giftSku
        self.lockedUntilMs = lockedUntilMs
        self.redeemedAtMs = redeemedAtMs
        self.replayed = replayed
    }
}

/// What one command does to one coupon: the coupon afterwards, the events to append (in
/// order), and the answer. A refusal may still carry writes: a lapsed lock found on access
/// is released and a coupon past its window is expired, whatever the command was.
public struct LifecyclePlan: Sendable, Equatable {
    public var coupon: CouponSnapshot
    public var events: [CouponEvent]
    public var result: Result<CheckoutReceipt, CheckoutRefusal>

    public var changesCoupon: Bool { !events.isEmpty }
}
