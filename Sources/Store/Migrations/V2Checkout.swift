extension CouponSchema {
    /// Checkout (issue 3): what a redeemed or locked coupon needs to answer a retry with the
    /// same price, and the partial indexes the expiry sweep scans.
    static let v2Checkout = """
        ALTER TABLE coupons
            ADD COLUMN shipping_fee  bigint,
            ADD COLUMN final_price   bigint,
            ADD CONSTRAINT coupons_amounts_nonnegative
                CHECK (order_amount >= 0 AND shipping_fee >= 0 AND discount >= 0 AND final_price >= 0),
            ADD CONSTRAINT coupons_order_matches_state
                CHECK ((state IN ('locked', 'redeemed')) = (order_id IS NOT NULL)),
            ADD CONSTRAINT coupons_lock_has_deadline
                CHECK ((state = 'locked') = (locked_until IS NOT NULL));

        ALTER TABLE coupon_events ADD COLUMN shipping_fee bigint;

        -- The sweep finds due coupons without scanning the whole table.
        CREATE INDEX coupons_issued_until ON coupons (valid_until) WHERE state = 'issued';
        CREATE INDEX coupons_locked_until ON coupons (locked_until) WHERE state = 'locked';
        """
}
