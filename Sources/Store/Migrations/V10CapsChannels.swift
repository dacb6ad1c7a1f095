extension CouponSchema {
    /// Period caps, channels and webhooks (issue 12).
    /// - a campaign's caps in its time zone (jsonb, null when none:
    ///   `{"time_zone","user_daily_limit"?,"user_weekly_limit"?,"daily_stock"?,"daily_release_minute"}`);
    /// - the channel a coupon was granted through (null for claims that named none);
    /// - webhook subscriptions and their outbox. Triggers write the outbox rows in the same
    ///   transaction as the ledger event (`coupon_events`) or the job's final state
    ///   (`bulk_jobs`), so an event is delivered if and only if it was committed.
    static let v10CapsChannels = """
        ALTER TABLE campaigns ADD COLUMN period_caps jsonb;
        ALTER TABLE coupons ADD COLUMN channel text;

        CREATE TABLE webhook_subscriptions (
            id                    bigserial   PRIMARY KEY,
            url                   text        NOT NULL,
            secret                text        NOT NULL,
            events                text[]      NOT NULL,
            expiring_within_days  int,
            active                boolean     NOT NULL DEFAULT true,
            created_at            timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE webhook_outbox (
            id               bigserial   PRIMARY KEY,
            subscription_id  bigint      NOT NULL,
            event            text        NOT NULL,
            subject          text        NOT NULL,
            payload          jsonb       NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now(),
            attempts         int         NOT NULL DEFAULT 0,
            next_at          timestamptz NOT NULL DEFAULT now(),
            delivered_at     timestamptz,
            last_error       text
        );
        CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at, id) WHERE delivered_at IS NULL;
        CREATE INDEX webhook_outbox_subject ON webhook_outbox (subscription_id, subject, id) WHERE delivered_at IS NULL;
        CREATE UNIQUE INDEX webhook_outbox_expiring_once ON webhook_outbox (subscription_id, subject) WHERE event = 'coupon.expiring';

        CREATE FUNCTION webhook_coupon_event() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            name text := CASE NEW.event WHEN 'issued' THEN 'coupon.granted' ELSE 'coupon.' || NEW.event END;
        BEGIN
            INSERT INTO webhook_outbox (subscription_id, event, subject, payload)
            SELECT s.id, name, NEW.code,
                   jsonb_build_object('event', name, 'code', NEW.code, 'campaign_id', NEW.campaign_id,
                       'user_id', (SELECT k.user_id FROM coupons k WHERE k.code = NEW.code),
                       'channel', (SELECT k.channel FROM coupons k WHERE k.code = NEW.code),
                       'at', to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                       'order_id', NEW.order_id, 'order_amount', NEW.order_amount, 'discount', NEW.discount,
                       'ledger_id', NEW.id)
            FROM webhook_subscriptions s
            WHERE s.active AND name = ANY (s.events);
            RETURN NULL;
        END $$;
        CREATE TRIGGER coupon_events_webhooks AFTER INSERT ON coupon_events
            FOR EACH ROW EXECUTE FUNCTION webhook_coupon_event();

        CREATE FUNCTION webhook_job_finished() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO webhook_outbox (subscription_id, event, subject, payload)
            SELECT s.id, 'job.finished', 'job:' || NEW.id,
                   jsonb_build_object('event', 'job.finished', 'job_id', NEW.id, 'campaign_id', NEW.campaign_id,
                       'state', NEW.state, 'total', NEW.total, 'done', NEW.done, 'granted', NEW.granted)
            FROM webhook_subscriptions s
            WHERE s.active AND 'job.finished' = ANY (s.events);
            RETURN NULL;
        END $$;
        CREATE TRIGGER bulk_jobs_webhooks AFTER UPDATE OF state ON bulk_jobs
            FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state AND NEW.state IN ('done', 'cancelled', 'failed'))
            EXECUTE FUNCTION webhook_job_finished();
        """
}
