extension CouponSchema {
    static let v1Initial = """
        CREATE TABLE templates (
            id          bigserial PRIMARY KEY,
            name        text NOT NULL,
            currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
            kind        text NOT NULL CHECK (kind IN ('amount_off', 'percent_off', 'free_shipping', 'gift', 'cash')),
            spec        jsonb NOT NULL,
            face_value  bigint NOT NULL DEFAULT 0 CHECK (face_value >= 0),
            created_at  timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE campaigns (
            id              bigserial PRIMARY KEY,
            template_id     bigint NOT NULL REFERENCES templates (id),
            name            text NOT NULL,
            stock_total     bigint NOT NULL CHECK (stock_total >= 0),
            per_user_limit  integer NOT NULL CHECK (per_user_limit > 0),
            claim_start     timestamptz NOT NULL,
            claim_end       timestamptz NOT NULL,
            validity        jsonb NOT NULL,
            required_tags   text[] NOT NULL DEFAULT '{}',
            state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'ended')),
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            CHECK (claim_end > claim_start)
        );

        -- One row per granted coupon. The code is the last guard against duplicates: the
        -- flusher inserts with ON CONFLICT (code) DO NOTHING, so redelivery changes nothing.
        CREATE TABLE coupons (
            code          text PRIMARY KEY,
            campaign_id   bigint NOT NULL REFERENCES campaigns (id),
            template_id   bigint NOT NULL REFERENCES templates (id),
            user_id       text NOT NULL,
            request_id    text NOT NULL,
            state         text NOT NULL DEFAULT 'issued'
                          CHECK (state IN ('issued', 'locked', 'redeemed', 'expired', 'revoked')),
            issued_at     timestamptz NOT NULL,
            valid_from    timestamptz NOT NULL,
            valid_until   timestamptz NOT NULL,
            stream_id     text NOT NULL,
            face_value    bigint NOT NULL DEFAULT 0,
            order_id      text,
            order_amount  bigint,
            discount      bigint,
            locked_until  timestamptz,
            redeemed_at   timestamptz,
            flushed_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX coupons_user ON coupons (user_id, campaign_id);
        CREATE INDEX coupons_campaign ON coupons (campaign_id);

        -- Append-only ledger finance reads. Every state change of a coupon adds one row in
        -- the same transaction as the change.
        CREATE TABLE coupon_events (
            id            bigserial PRIMARY KEY,
            code          text NOT NULL REFERENCES coupons (code),
            campaign_id   bigint NOT NULL REFERENCES campaigns (id),
            event         text NOT NULL
                          CHECK (event IN ('issued', 'locked', 'redeemed', 'released', 'restored', 'expired', 'revoked')),
            at            timestamptz NOT NULL,
            order_id      text,
            order_amount  bigint,
            discount      bigint,
            face_value    bigint NOT NULL DEFAULT 0,
            reason        text
        );
        CREATE INDEX coupon_events_campaign_at ON coupon_events (campaign_id, at);
        CREATE INDEX coupon_events_code ON coupon_events (code);
        CREATE UNIQUE INDEX coupon_events_issued_once ON coupon_events (code) WHERE event = 'issued';

        CREATE TABLE api_keys (
            id          bigserial PRIMARY KEY,
            key_hash    text NOT NULL UNIQUE,
            role        text NOT NULL CHECK (role IN ('issue', 'checkout', 'admin', 'finance')),
            label       text NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        );
        """
}
