extension CouponSchema {
    /// Store write-off (issue 13): `store` keys carry the store (and optionally the business line)
    /// they act for; every coupon event may record the store it happened in and who did it.
    static let v5StoreKeys = """
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
            CHECK (role IN ('issue', 'checkout', 'admin', 'finance', 'store'));
        ALTER TABLE api_keys ADD COLUMN store_id text, ADD COLUMN business_line text;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_store_scope CHECK ((role = 'store') = (store_id IS NOT NULL));
        ALTER TABLE coupon_events ADD COLUMN store_id text, ADD COLUMN actor text;
        CREATE INDEX coupon_events_store_day ON coupon_events (store_id, at) WHERE store_id IS NOT NULL;
        """
}
