extension CouponSchema {
    /// The two hot tables lose their foreign keys. Every grant inserted one coupon and one
    /// event, and with them four referential checks, each a query that locks the referenced
    /// row (`FOR KEY SHARE`). Measured on 20,000-grant batches, those checks were 45 % of the
    /// flusher's PostgreSQL time (460 ms → 250 ms). The references still hold:
    /// - `coupons.campaign_id` and `template_id` come from the campaign row the flusher joins
    ///   (`GrantWriter`; an unknown campaign fails the batch on `template_id NOT NULL`);
    ///   campaigns and templates are never deleted.
    /// - `coupon_events` rows are written only with their coupon, in the same transaction.
    /// The reconciliation report's checks compare the tables with Redis and the stream.
    static let v3LedgerForeignKeys = """
        ALTER TABLE coupons DROP CONSTRAINT coupons_campaign_id_fkey;
        ALTER TABLE coupons DROP CONSTRAINT coupons_template_id_fkey;
        ALTER TABLE coupon_events DROP CONSTRAINT coupon_events_code_fkey;
        ALTER TABLE coupon_events DROP CONSTRAINT coupon_events_campaign_id_fkey;
        """
}
