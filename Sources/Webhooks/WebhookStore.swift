import PostgresClient

/// Subscriptions and the outbox in PostgreSQL (migration 10). Outbox rows are written by
/// triggers in the transaction of their event; this type reads, leases and settles them.
public enum WebhookStore {
    static let columns = "id, url, secret, array_to_string(events, ','), expiring_within_days, active"

    public static func insert(_ subscription: WebhookSubscription, on connection: PostgresConnection) throws -> WebhookSubscription {
        try decode(
            connection.execute(
                """
                INSERT INTO webhook_subscriptions (url, secret, events, expiring_within_days)
                VALUES ($1, $2, string_to_array($3, ','), $4) RETURNING \(columns)
                """,
                [subscription.url.text, subscription.secret, subscription.events.joined(separator: ","), subscription.expiringWithinDays]
            ).first!)
    }

    public static func list(on connection: PostgresConnection) throws -> [WebhookSubscription] {
        try connection.execute("SELECT \(columns) FROM webhook_subscriptions WHERE active ORDER BY id").map(decode)
    }

    /// Deactivates a subscription; its undelivered rows are dropped. False when there is none.
    public static func deactivate(id: Int64, on connection: PostgresConnection) throws -> Bool {
        try connection.transaction { connection in
            let rows = try connection.execute("UPDATE webhook_subscriptions SET active = false WHERE id = $1 AND active RETURNING id", [id])
            try connection.execute("DELETE FROM webhook_outbox WHERE subscription_id = $1 AND delivered_at IS NULL", [id])
            return !rows.isEmpty
        }
    }

    /// One outbox row leased for delivery.
    public struct Delivery: Sendable, Equatable {
        public let id: Int64
        public let event: String
        public let payload: String
        public let attempts: Int
        public let url: WebhookURL
        public let secret: String
    }

    /// Leases up to `limit` due rows for `leaseSeconds`: per subscription and subject (a coupon,
    /// a job) only the oldest undelivered row, so a coupon's events arrive in ledger order.
    public static func lease(limit: Int, leaseSeconds: Int, on connection: PostgresConnection) throws -> [Delivery] {
        try connection.execute(
            """
            WITH due AS (
                SELECT o.id FROM webhook_outbox o
                WHERE o.delivered_at IS NULL AND o.next_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
                                  WHERE p.subscription_id = o.subscription_id AND p.subject = o.subject
                                    AND p.delivered_at IS NULL AND p.id < o.id)
                ORDER BY o.next_at, o.id LIMIT $1 FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_outbox o SET next_at = now() + $2 * interval '1 second'
            FROM due, webhook_subscriptions s
            WHERE o.id = due.id AND s.id = o.subscription_id
            RETURNING o.id, o.event, o.payload::text, o.attempts, s.url, s.secret
            """, [limit, leaseSeconds]
        ).compactMap { row in
            guard let url = WebhookURL(try row.string(4)) else { return nil }
            return Delivery(
                id: try row.int64(0), event: try row.string(1), payload: try row.string(2), attempts: try row.int(3), url: url,
                secret: try row.string(5))
        }.sorted { $0.id < $1.id }
    }

    public static func delivered(_ id: Int64, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE webhook_outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1", [id])
    }

    public static func failed(_ id: Int64, retryInMs: Int64, error: String, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = now() + $2 * interval '1 millisecond', last_error = $3 WHERE id = $1",
            [id, retryInMs, String(error.prefix(500))])
    }

    /// Adds `coupon.expiring` rows (once per subscription and coupon) for usable coupons whose
    /// validity ends within each subscription's `expiring_within_days`; returns how many.
    public static func enqueueExpiring(on connection: PostgresConnection) throws -> Int {
        try connection.execute(
            """
            INSERT INTO webhook_outbox (subscription_id, event, subject, payload)
            SELECT s.id, 'coupon.expiring', k.code,
                   jsonb_build_object('event', 'coupon.expiring', 'code', k.code, 'campaign_id', k.campaign_id, 'user_id', k.user_id,
                       'channel', k.channel, 'valid_until', to_char(k.valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            FROM webhook_subscriptions s
            JOIN coupons k ON k.state = 'issued' AND k.valid_until > now()
                          AND k.valid_until <= now() + s.expiring_within_days * interval '1 day'
            WHERE s.active AND 'coupon.expiring' = ANY (s.events)
            ON CONFLICT (subscription_id, subject) WHERE event = 'coupon.expiring' DO NOTHING
            """
        ).rowsAffected
    }

    /// Undelivered rows (tests, metrics).
    public static func undelivered(on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL").first?.int64(0) ?? 0
    }

    static func decode(_ row: PostgresRow) throws -> WebhookSubscription {
        let events = try row.string(3)
        return WebhookSubscription(
            id: try row.int64(0), url: WebhookURL(try row.string(1)) ?? WebhookURL("http://invalid/")!, secret: try row.string(2),
            events: events.isEmpty ? [] : events.split(separator: ",").map(String.init), expiringWithinDays: try row.optionalInt(4),
            active: try row.bool(5))
    }
}
