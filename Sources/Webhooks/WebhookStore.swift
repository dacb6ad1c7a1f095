import PostgresClient

/// Subscriptions and the outbox in PostgreSQL (migrations 10 and 12). Outbox rows are written by
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

    public static func isActive(id: Int64, on connection: PostgresConnection) throws -> Bool {
        !(try connection.execute("SELECT 1 FROM webhook_subscriptions WHERE id = $1 AND active", [id])).isEmpty
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
        public let subscriptionId: Int64
        public let event: String
        public let payload: String
        /// Earlier attempts (since it was queued or re-queued from dead).
        public let attempts: Int
        /// Seconds since it was queued or re-queued.
        public let ageSeconds: Double
        public let url: WebhookURL
        public let secret: String
    }

    /// Leases up to `allowance.total` due rows for `leaseSeconds`, at most the allowance of each
    /// subscription; per subscription and subject (a coupon, a job) only the oldest row neither
    /// delivered nor dead, so a coupon's events go out in ledger order.
    public static func lease(_ allowance: WebhookDispatch.Allowance, leaseSeconds: Int, on connection: PostgresConnection) throws -> [Delivery] {
        guard allowance.total > 0 else { return [] }
        let overrides = allowance.overrides.sorted { $0.key < $1.key }
        return try connection.execute(
            """
            WITH allowed AS (
                SELECT s.id, COALESCE(a.n, $2) AS n
                FROM webhook_subscriptions s
                LEFT JOIN unnest($3::bigint[], $4::int[]) AS a (id, n) ON a.id = s.id
                WHERE s.active
            ), due AS (
                SELECT d.id, d.next_at FROM allowed s
                CROSS JOIN LATERAL (
                    SELECT o.id, o.next_at FROM webhook_outbox o
                    WHERE o.subscription_id = s.id AND o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_at <= now()
                      AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
                                      WHERE p.subscription_id = o.subscription_id AND p.subject = o.subject
                                        AND p.delivered_at IS NULL AND p.dead_at IS NULL AND p.id < o.id)
                    ORDER BY o.next_at, o.id LIMIT s.n FOR UPDATE SKIP LOCKED
                ) d
                WHERE s.n > 0
                ORDER BY d.next_at, d.id LIMIT $1
            )
            UPDATE webhook_outbox o SET next_at = now() + $5 * interval '1 second'
            FROM due, webhook_subscriptions s
            WHERE o.id = due.id AND s.id = o.subscription_id
            RETURNING o.id, o.subscription_id, o.event, o.payload::text, o.attempts,
                      extract(epoch FROM now() - o.queued_at)::float8, s.url, s.secret
            """,
            [allowance.total, allowance.perSubscription, arrayLiteral(overrides.map { String($0.key) }),
             arrayLiteral(overrides.map { String($0.value) }), leaseSeconds]
        ).compactMap { row in
            guard let url = WebhookURL(try row.string(6)) else { return nil }
            return Delivery(
                id: try row.int64(0), subscriptionId: try row.int64(1), event: try row.string(2), payload: try row.string(3),
                attempts: try row.int(4), ageSeconds: try row.double(5), url: url, secret: try row.string(7))
        }.sorted { $0.id < $1.id }
    }

    /// Gives leases back (rows leased but not started): due again at once.
    public static func release(_ ids: [Int64], on connection: PostgresConnection) throws {
        guard !ids.isEmpty else { return }
        try connection.execute(
            "UPDATE webhook_outbox SET next_at = now() WHERE id = ANY ($1::bigint[]) AND delivered_at IS NULL",
            [arrayLiteral(ids.map(String.init))])
    }

    /// Writes the outcomes of finished attempts: every delivered row in one statement, each
    /// retry or dead row in its own (they carry their own delay and error). Delivered wins over
    /// dead (a row swept dead by age while its last attempt was succeeding counts as delivered).
    public static func settle(_ settlements: [(id: Int64, settlement: WebhookDispatch.Settlement)], on connection: PostgresConnection) throws {
        var delivered: [Int64] = []
        for (id, settlement) in settlements {
            switch settlement {
            case .delivered:
                delivered.append(id)
            case .retry(let afterMs, let error):
                try connection.execute(
                    """
                    UPDATE webhook_outbox SET attempts = attempts + 1, next_at = now() + $2 * interval '1 millisecond', last_error = $3
                    WHERE id = $1 AND delivered_at IS NULL
                    """, [id, afterMs, String(error.prefix(500))])
            case .dead(let error):
                try connection.execute(
                    """
                    UPDATE webhook_outbox SET attempts = attempts + 1, dead_at = now(), last_error = $2
                    WHERE id = $1 AND delivered_at IS NULL
                    """, [id, String(error.prefix(500))])
            }
        }
        guard !delivered.isEmpty else { return }
        try connection.execute(
            """
            UPDATE webhook_outbox SET delivered_at = now(), dead_at = NULL, attempts = attempts + 1, last_error = NULL
            WHERE id = ANY ($1::bigint[])
            """, [arrayLiteral(delivered.map(String.init))])
    }

    /// Marks dead, in batches of `batch`, due rows queued more than `maxAgeSeconds` ago that
    /// never got their turn (an endpoint probed one row at a time); returns how many.
    public static func expireOld(maxAgeSeconds: Double, batch: Int, on connection: PostgresConnection) throws -> Int {
        try connection.execute(
            """
            UPDATE webhook_outbox SET dead_at = now(), last_error = COALESCE(last_error || ' ', '') || '(too old)'
            WHERE id IN (SELECT id FROM webhook_outbox
                         WHERE delivered_at IS NULL AND dead_at IS NULL AND next_at <= now()
                           AND queued_at < now() - $1 * interval '1 second'
                         LIMIT $2 FOR UPDATE SKIP LOCKED)
            """, [maxAgeSeconds, batch]
        ).rowsAffected
    }

    /// Deletes up to `batch` rows delivered more than `retentionSeconds` ago; returns how many.
    /// A `coupon.expiring` row stays until its coupon's validity has ended: it is what keeps
    /// that event once per coupon (`webhook_outbox_expiring_once`).
    public static func deleteDelivered(olderThan retentionSeconds: Double, batch: Int, on connection: PostgresConnection) throws -> Int {
        try connection.execute(
            """
            DELETE FROM webhook_outbox
            WHERE id IN (SELECT id FROM webhook_outbox
                         WHERE delivered_at < now() - $1 * interval '1 second'
                           AND (event <> 'coupon.expiring' OR (payload ->> 'valid_until')::timestamptz < now())
                         ORDER BY delivered_at LIMIT $2)
            """, [retentionSeconds, batch]
        ).rowsAffected
    }

    /// Per subscription: rows waiting (or retrying), dead, and delivered (kept for the retention).
    public struct Counts: Sendable, Equatable {
        public var pending: Int64 = 0
        public var dead: Int64 = 0
        public var delivered: Int64 = 0

        public init(pending: Int64 = 0, dead: Int64 = 0, delivered: Int64 = 0) {
            self.pending = pending
            self.dead = dead
            self.delivered = delivered
        }
    }

    public static func counts(on connection: PostgresConnection) throws -> [Int64: Counts] {
        var result: [Int64: Counts] = [:]
        for row in try connection.execute(
            """
            SELECT subscription_id,
                   count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL),
                   count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NOT NULL),
                   count(*) FILTER (WHERE delivered_at IS NOT NULL)
            FROM webhook_outbox GROUP BY subscription_id
            """)
        {
            result[try row.int64(0)] = Counts(pending: try row.int64(1), dead: try row.int64(2), delivered: try row.int64(3))
        }
        return result
    }

    /// A dead row as the admin API shows it.
    public struct DeadDelivery: Sendable, Equatable {
        public let id: Int64
        public let event: String
        public let subject: String
        public let attempts: Int
        public let lastError: String
        public let createdAt: String
        public let deadAt: String
        public let payload: String
    }

    /// Dead rows of a subscription, oldest first, ids above `after`, at most `limit`.
    public static func dead(subscription: Int64, after: Int64, limit: Int, on connection: PostgresConnection) throws -> [DeadDelivery] {
        try connection.execute(
            """
            SELECT id, event, subject, attempts, COALESCE(last_error, ''),
                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   to_char(dead_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), payload::text
            FROM webhook_outbox
            WHERE subscription_id = $1 AND dead_at IS NOT NULL AND delivered_at IS NULL AND id > $2
            ORDER BY id LIMIT $3
            """, [subscription, after, limit]
        ).map { row in
            DeadDelivery(
                id: try row.int64(0), event: try row.string(1), subject: try row.string(2), attempts: try row.int(3),
                lastError: try row.string(4), createdAt: try row.string(5), deadAt: try row.string(6), payload: try row.string(7))
        }
    }

    /// Re-queues dead rows of a subscription (all, or those in `ids`): due at once, attempts
    /// and age from zero. Returns how many; nil when the subscription does not exist or is inactive.
    public static func retryDead(subscription: Int64, ids: [Int64]?, on connection: PostgresConnection) throws -> Int? {
        try connection.transaction { connection in
            guard try isActive(id: subscription, on: connection) else { return nil }
            return try connection.execute(
                """
                UPDATE webhook_outbox SET dead_at = NULL, attempts = 0, next_at = now(), queued_at = now()
                WHERE subscription_id = $1 AND dead_at IS NOT NULL AND delivered_at IS NULL
                  AND ($2::bigint[] IS NULL OR id = ANY ($2::bigint[]))
                """, [subscription, ids.map { arrayLiteral($0.map(String.init)) }]
            ).rowsAffected
        }
    }

    /// `{1,2,3}`: an array parameter in text form (the values are digits only).
    static func arrayLiteral(_ values: [String]) -> String { "{" + values.joined(separator: ",") + "}" }

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

    /// Rows neither delivered nor dead (tests, metrics).
    public static func undelivered(on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL AND dead_at IS NULL").first?.int64(0) ?? 0
    }

    static func decode(_ row: PostgresRow) throws -> WebhookSubscription {
        let events = try row.string(3)
        return WebhookSubscription(
            id: try row.int64(0), url: WebhookURL(try row.string(1)) ?? WebhookURL("http://invalid/")!, secret: try row.string(2),
            events: events.isEmpty ? [] : events.split(separator: ",").map(String.init), expiringWithinDays: try row.optionalInt(4),
            active: try row.bool(5))
    }
}
