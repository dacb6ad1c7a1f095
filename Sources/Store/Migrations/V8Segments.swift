extension CouponSchema {
    /// Segments (人群, issue 12): uploaded lists and rule segments computed from coupond's own
    /// data, their members, and the campaigns whose audience is a segment. Renumber freely.
    static let v8Segments = """
        CREATE TABLE segments (
            id            bigserial   PRIMARY KEY,
            name          text        NOT NULL,
            kind          text        NOT NULL CHECK (kind IN ('uploaded', 'rule')),
            rule          jsonb,
            size          bigint      NOT NULL DEFAULT 0,
            version       bigint      NOT NULL DEFAULT 1,
            refreshed_at  timestamptz NOT NULL DEFAULT now(),
            created_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE segment_members (
            segment_id  bigint NOT NULL,
            user_id     text   NOT NULL,
            PRIMARY KEY (segment_id, user_id)
        );
        CREATE TABLE campaign_audiences (
            campaign_id  bigint PRIMARY KEY,
            segment_id   bigint NOT NULL
        );
        CREATE INDEX campaign_audiences_segment ON campaign_audiences (segment_id);
        CREATE INDEX coupons_redeemed_user ON coupons (user_id, redeemed_at) WHERE redeemed_at IS NOT NULL;
        """
}
