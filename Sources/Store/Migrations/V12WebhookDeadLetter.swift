extension CouponSchema {
    /// Webhook dead-letter and retention (issue 12):
    /// - `dead_at`: a row that failed `webhook-max-attempts` times or stayed queued longer than
    ///   `webhook-max-age-seconds` is dead: not retried, listed by the admin API, re-queued on
    ///   request; it no longer holds back its subject's later rows;
    /// - `queued_at`: when the row was queued or last re-queued from dead (its age for the limit);
    /// - per-subscription lease order and the retention sweep get their own indexes.
    static let v12WebhookDeadLetter = """
        ALTER TABLE webhook_outbox ADD COLUMN dead_at timestamptz;
        ALTER TABLE webhook_outbox ADD COLUMN queued_at timestamptz;
        UPDATE webhook_outbox SET queued_at = created_at;
        ALTER TABLE webhook_outbox ALTER COLUMN queued_at SET DEFAULT now(), ALTER COLUMN queued_at SET NOT NULL;
        DROP INDEX webhook_outbox_subject;
        CREATE INDEX webhook_outbox_subject ON webhook_outbox (subscription_id, subject, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
        CREATE INDEX webhook_outbox_lease ON webhook_outbox (subscription_id, next_at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
        CREATE INDEX webhook_outbox_dead ON webhook_outbox (subscription_id, id) WHERE dead_at IS NOT NULL;
        CREATE INDEX webhook_outbox_delivered ON webhook_outbox (delivered_at) WHERE delivered_at IS NOT NULL;
        """
}
