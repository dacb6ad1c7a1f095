extension CouponSchema {
    /// Prize coupons and paid attempts of draws, refunds of revoked exchange coupons (issue 11).
    /// Self-contained so it can be renumbered at merge: it only adds columns.
    ///
    /// - `draws.points_cost`: points one attempt costs (0: free); `draws.prize_campaigns`: per
    ///   tier (table order) the campaign its prize coupons are granted from (0: the tier has no
    ///   template, a win is recorded only).
    /// - `campaign_points.prize_of_draw`: the draw a prize campaign belongs to; only that draw
    ///   grants its coupons (no plain claim, no exchange).
    /// - `points_ledger.draw_id`: a `spend`/`refund` of a draw attempt names the draw (with
    ///   `request_id`, the attempt).
    static let v9PointsDraws = """
        ALTER TABLE draws ADD COLUMN points_cost bigint NOT NULL DEFAULT 0 CHECK (points_cost >= 0);
        ALTER TABLE draws ADD COLUMN prize_campaigns bigint[] NOT NULL DEFAULT '{}';
        ALTER TABLE campaign_points ADD COLUMN prize_of_draw bigint;
        ALTER TABLE points_ledger ADD COLUMN draw_id bigint;
        CREATE INDEX points_ledger_draw ON points_ledger (draw_id, request_id) WHERE draw_id IS NOT NULL;
        """
}
