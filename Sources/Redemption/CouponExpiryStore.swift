import PostgresClient

/// The SQL of the expiry sweep: lapsed locks released and coupons past `valid_until` expired,
/// each with its ledger event, skipping rows another transaction holds.
enum CouponExpiryStore {
    static let releaseSQL = """
        WITH due AS (
            SELECT code, campaign_id, order_id, order_amount, shipping_fee, discount, face_value FROM coupons
            WHERE state = 'locked' AND locked_until <= clock_timestamp()
            ORDER BY locked_until LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), released AS (
            UPDATE coupons c SET state = 'issued', order_id = NULL, order_amount = NULL, shipping_fee = NULL,
                   discount = NULL, final_price = NULL, locked_until = NULL
            FROM due WHERE c.code = due.code
        )
        INSERT INTO coupon_events (code, campaign_id, event, at, order_id, order_amount, shipping_fee, discount, face_value, reason)
        SELECT code, campaign_id, 'released', clock_timestamp(), order_id, order_amount, shipping_fee, discount, face_value, 'lock_expired'
        FROM due
        """

    static let expireSQL = """
        WITH due AS (
            SELECT code, campaign_id, face_value FROM coupons
            WHERE state = 'issued' AND valid_until < clock_timestamp()
            ORDER BY valid_until LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), expired AS (
            UPDATE coupons c SET state = 'expired' FROM due WHERE c.code = due.code
        )
        INSERT INTO coupon_events (code, campaign_id, event, at, face_value)
        SELECT code, campaign_id, 'expired', clock_timestamp(), face_value FROM due
        """

    /// One batch of each, in one transaction: releases first, so a lapsed lock past its
    /// window is released and expired in the same pass.
    static func releaseAndExpire(limit: Int, on connection: PostgresConnection) throws -> ExpirySweep.Outcome {
        try connection.transaction { connection in
            let released = try connection.execute(releaseSQL, [limit]).rowsAffected
            let expired = try connection.execute(expireSQL, [limit]).rowsAffected
            return ExpirySweep.Outcome(released: released, expired: expired)
        }
    }
}
