extension CouponSchema {
    /// Period caps and channels (issue 12): a campaign's caps in its time zone (jsonb, null when
    /// none: `{"time_zone","user_daily_limit"?,"user_weekly_limit"?,"daily_stock"?,"daily_release_minute"}`)
    /// and the channel a coupon was granted through (null for claims that named none).
    /// Renumber freely.
    static let v9CapsChannels = """
        ALTER TABLE campaigns ADD COLUMN period_caps jsonb;
        ALTER TABLE coupons ADD COLUMN channel text;
        """
}
