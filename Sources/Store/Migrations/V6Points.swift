extension CouponSchema {
    /// Points accounts and exchange campaigns (issue 11). Self-contained so it can be renumbered
    /// at merge: it only adds tables and widens the `api_keys` role check.
    ///
    /// `points_ledger` is append-only, the system of record for balances: one row per event of a
    /// user's balance (earn, spend, refund, expire, adjust), numbered per user by `seq` (the
    /// Redis script's counter), so the flusher's at-least-once delivery inserts each event once.
    /// `balance_after` is the balance right after the event. A `spend`/`refund` names the exchange
    /// by (campaign_id, request_id) — the same pair as the coupon it paid for in `coupons`.
    static let v6Points = """
        CREATE TABLE points_ledger (
            id               bigserial   PRIMARY KEY,
            user_id          text        NOT NULL,
            seq              bigint      NOT NULL,
            kind             text        NOT NULL CHECK (kind IN ('earn', 'spend', 'refund', 'expire', 'adjust')),
            points           bigint      NOT NULL,
            balance_after    bigint      NOT NULL CHECK (balance_after >= 0),
            at               timestamptz NOT NULL,
            lot_expires_at   timestamptz,
            reason           text,
            order_id         text,
            idempotency_key  text,
            campaign_id      bigint,
            request_id       text,
            UNIQUE (user_id, seq)
        );
        CREATE INDEX points_ledger_exchange ON points_ledger (campaign_id, request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX points_ledger_at ON points_ledger (at);

        CREATE TABLE campaign_points (
            campaign_id         bigint      PRIMARY KEY,
            points_cost         bigint      NOT NULL CHECK (points_cost >= 0),
            min_points_balance  bigint      NOT NULL CHECK (min_points_balance >= 0),
            updated_at          timestamptz NOT NULL DEFAULT now()
        );

        -- Prize draws: the table (canonical JSON) and its version hash; every attempt with its
        -- random value, so anyone can recompute the selected tier.
        CREATE TABLE draws (
            id             bigserial   PRIMARY KEY,
            name           text        NOT NULL,
            claim_start    timestamptz NOT NULL,
            claim_end      timestamptz NOT NULL,
            attempt_limit  int         NOT NULL CHECK (attempt_limit >= 1),
            prize_table    text        NOT NULL,
            table_hash     text        NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE draw_attempts (
            attempt_id     text        PRIMARY KEY,
            draw_id        bigint      NOT NULL,
            user_id        text        NOT NULL,
            request_id     text        NOT NULL,
            random         bigint      NOT NULL,
            table_hash     text        NOT NULL,
            selected_tier  int         NOT NULL,
            outcome_tier   int         NOT NULL,
            at             timestamptz NOT NULL
        );
        CREATE INDEX draw_attempts_draw ON draw_attempts (draw_id, outcome_tier);

        ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
            CHECK (role IN ('issue', 'checkout', 'admin', 'finance', 'store', 'points'));
        """
}
