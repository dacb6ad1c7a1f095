import CouponCore
import PostgresClient

/// Where a checkout command runs when a store's till runs it: the store (and the key's
/// business line, if bound to one) and the key's label, recorded on every event it writes.
public struct CheckoutPlace: Sendable, Equatable {
    public let storeId: String
    public let businessLine: String?
    /// The acting key's label (e.g. `till-3`).
    public let actor: String

    public init(storeId: String, businessLine: String?, actor: String) {
        self.storeId = storeId
        self.businessLine = businessLine
        self.actor = actor
    }

    /// The order id a write-off is recorded under: the store's own, so the same code written
    /// off again at the same store for the same order replays, and another store never does.
    public func orderId(_ given: String?) -> String {
        given.map { "store:\(storeId):\($0)" } ?? "store:\(storeId)"
    }

    /// The order as this place prices it: always in this store, and in the key's line when bound.
    public func order(amount: Int64, shippingFee: Int64, currency: String? = nil) -> Order {
        Order(amount: amount, shippingFee: shippingFee, businessLine: businessLine, storeId: storeId, currency: currency)
    }
}

extension CheckoutCommand {
    /// The command as a store's till issues it: orders priced in `place` and named in its
    /// namespace; nil place: unchanged.
    public func at(_ place: CheckoutPlace?) -> CheckoutCommand {
        guard let place else { return self }
        func local(_ order: CheckoutOrder) -> CheckoutOrder {
            CheckoutOrder(
                orderId: place.orderId(order.orderId),
                order: place.order(amount: order.order.amount, shippingFee: order.order.shippingFee, currency: order.order.currency))
        }
        switch self {
        case .redeem(let order): return .redeem(local(order))
        case .lock(let order, let ttlMs): return .lock(local(order), ttlMs: ttlMs)
        case .confirm(let id): return .confirm(orderId: place.orderId(id))
        case .release(let id): return .release(orderId: place.orderId(id))
        case .restore(let id, let reason): return .restore(orderId: place.orderId(id), reason: reason)
        case .revoke: return self
        }
    }
}

/// A refused write-off, with when and where the coupon was used when that is the reason.
public struct WriteOffRefusal: Error, Sendable, Equatable {
    public let refusal: CheckoutRefusal
    public let redeemedAtMs: Int64?
    public let redeemedStoreId: String?
}

/// Scan-to-redeem at a store counter (issue 13): the clerk has only the code. The coupon is
/// redeemed for its owner, priced in this store; a coupon whose scope excludes the store is
/// `not_usable_here`. Same rules, row lock and ledger as `Checkout.perform`; the events carry
/// the store and the key's label. A code PostgreSQL does not hold yet (claimed and not yet
/// flushed, normally under a second) is `not_found`: without the owner's id it cannot be found.
public enum StoreWriteOff {
    public static func perform(
        code: String, order: CheckoutOrder, place: CheckoutPlace, on connection: PostgresConnection
    ) throws -> Result<CheckoutReceipt, WriteOffRefusal> {
        let outcome: Result<CheckoutReceipt, CheckoutRefusal> = try connection.transaction { connection in
            guard let coupon = try CheckoutStore.lock(code: code, on: connection) else { return .failure(.notFound) }
            let nowMs = try CheckoutStore.nowMs(on: connection)
            let plan = CouponLifecycle.plan(.redeem(order), userId: coupon.userId, coupon: coupon, nowMs: nowMs)
            try CheckoutStore.write(plan, nowMs: nowMs, place: place, on: connection)
            return plan.result
        }
        switch outcome {
        case .success(let receipt):
            return .success(receipt)
        case .failure(.outOfScope):
            return .failure(WriteOffRefusal(refusal: .notUsableHere, redeemedAtMs: nil, redeemedStoreId: nil))
        case .failure(.alreadyRedeemed):
            let redeemed = try CheckoutStore.redemption(code: code, on: connection)
            return .failure(
                WriteOffRefusal(refusal: .alreadyRedeemed, redeemedAtMs: redeemed?.atMs, redeemedStoreId: redeemed?.storeId))
        case .failure(let refusal):
            return .failure(WriteOffRefusal(refusal: refusal, redeemedAtMs: nil, redeemedStoreId: nil))
        }
    }
}
