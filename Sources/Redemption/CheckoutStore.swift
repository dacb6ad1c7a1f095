import CouponCore
import GrantFlusher
import PostgresClient
import Store

/// A stored coupon that checkout cannot interpret; a broken invariant, answered as 500.
public struct RedemptionError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case badTemplate = "bad_template", badState = "bad_state" }
    public let code: Code
    public let detail: String

    public var description: String { "\(code.rawValue): \(detail)" }
}

/// The PostgreSQL side of checkout: lock one coupon row, read the database clock, write a
/// `LifecyclePlan` (the row and its events) — always inside the caller's transaction.
public enum CheckoutStore {
    static func ms(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000)::bigint" }
    static func timestamp(_ bind: String) -> String { "timestamptz 'epoch' + \(bind)::bigint * interval '1 millisecond'" }

    static let lockSQL = """
        SELECT c.code, c.campaign_id, c.user_id, c.state, \(ms("c.valid_from")), \(ms("c.valid_until")), c.face_value,
               t.spec::text, c.order_id, c.order_amount, c.shipping_fee, c.discount, c.final_price,
               \(ms("c.locked_until")), \(ms("c.redeemed_at"))
        FROM coupons c JOIN templates t ON t.id = c.template_id
        WHERE c.code = $1
        FOR UPDATE OF c
        """

    /// Locks the coupon row until the transaction ends; nil when there is no such code.
    public static func lock(code: String, on connection: PostgresConnection) throws -> CouponSnapshot? {
        guard let row = try connection.execute(lockSQL, [code]).first else { return nil }
        let stateText = try row.string(3)
        guard let state = CouponState(rawValue: stateText) else {
            throw RedemptionError(code: .badState, detail: "coupon \(code) has state \(stateText)")
        }
        let template = try Wallet.decodeTemplate(try row.string(7), of: "coupon \(code)")
        var order: PricedOrder?
        if let orderId = try row.optionalString(8) {
            let amount = try row.optionalInt64(9) ?? 0
            let shipping = try row.optionalInt64(10) ?? 0
            let discount = try row.optionalInt64(11) ?? 0
            order = PricedOrder(
                orderId: orderId, amount: amount, shippingFee: shipping, discount: discount,
                finalPrice: try row.optionalInt64(12) ?? max(0, amount + shipping - discount))
        }
        return CouponSnapshot(
            code: try row.string(0), campaignId: try row.int64(1), userId: try row.string(2), state: state,
            validFromMs: try row.int64(4), validUntilMs: try row.int64(5), faceValue: try row.int64(6), template: template,
            order: order, lockedUntilMs: try row.optionalInt64(13), redeemedAtMs: try row.optionalInt64(14))
    }

    /// The owner of a code, without locking; nil when PostgreSQL does not have it (yet).
    public static func owner(code: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute("SELECT user_id FROM coupons WHERE code = $1", [code]).first?.string(0)
    }

    /// When a code was redeemed and at which store (nil: not at a store); nil when there is no such code.
    public static func redemption(code: String, on connection: PostgresConnection) throws -> (atMs: Int64?, storeId: String?)? {
        guard let row = try connection.execute(
            """
            SELECT \(ms("c.redeemed_at")),
                   (SELECT e.store_id FROM coupon_events e WHERE e.code = c.code AND e.event = 'redeemed' ORDER BY e.id DESC LIMIT 1)
            FROM coupons c WHERE c.code = $1
            """, [code]
        ).first else { return nil }
        return (try row.optionalInt64(0), try row.optionalString(1))
    }

    /// PostgreSQL's clock, the one time source of every checkout decision.
    public static func nowMs(on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT \(ms("clock_timestamp()"))").first!.int64(0)
    }

    static let updateSQL = """
        UPDATE coupons SET state = $2, order_id = $3, order_amount = $4, shipping_fee = $5, discount = $6, final_price = $7,
               locked_until = \(timestamp("$8")), redeemed_at = \(timestamp("$9"))
        WHERE code = $1
        """

    static let eventSQL = """
        INSERT INTO coupon_events (code, campaign_id, event, at, order_id, order_amount, shipping_fee, discount, face_value, reason,
                                   store_id, actor)
        VALUES ($1, $2, $3, \(timestamp("$4")), $5, $6, $7, $8, $9, $10, $11, $12)
        """

    /// Writes the coupon as the plan leaves it and appends its events, in order; `place` (the
    /// store and the key label acting there) is recorded on each event when checkout ran at a store.
    public static func write(_ plan: LifecyclePlan, nowMs: Int64, place: CheckoutPlace? = nil, on connection: PostgresConnection) throws {
        guard plan.changesCoupon else { return }
        let coupon = plan.coupon
        let order = coupon.order
        try connection.execute(
            updateSQL,
            [
                coupon.code, coupon.state.rawValue, order?.orderId, order?.amount, order?.shippingFee, order?.discount,
                order?.finalPrice, coupon.lockedUntilMs, coupon.redeemedAtMs,
            ])
        for event in plan.events {
            try connection.execute(
                eventSQL,
                [
                    coupon.code, coupon.campaignId, event.kind.rawValue, nowMs, event.order?.orderId, event.order?.amount,
                    event.order?.shippingFee, event.order?.discount, coupon.faceValue, event.reason, place?.storeId, place?.actor,
                ])
        }
    }
}
