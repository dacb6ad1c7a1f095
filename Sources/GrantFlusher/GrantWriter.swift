import Issuance
import PostgresClient
import Store

/// Writes grants into PostgreSQL idempotently: a coupon row per code (ON CONFLICT DO NOTHING)
/// and, only for rows actually inserted, its `issued` event — in one statement, inside the
/// caller's transaction. Used by the flusher and by redeem-before-flush.
public enum GrantWriter {
    static let sql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])
                AS x(code, campaign_id, user_id, request_id, at_ms, from_ms, until_ms, stream_id, channel)
        ), inserted AS (
            INSERT INTO coupons (code, campaign_id, template_id, user_id, request_id, issued_at, valid_from, valid_until, stream_id, face_value, channel)
            SELECT x.code, x.campaign_id, c.template_id, x.user_id, x.request_id,
                   timestamptz 'epoch' + x.at_ms * interval '1 millisecond',
                   timestamptz 'epoch' + x.from_ms * interval '1 millisecond',
                   timestamptz 'epoch' + x.until_ms * interval '1 millisecond',
                   x.stream_id, COALESCE(t.face_value, 0), NULLIF(x.channel, '')
            -- LEFT JOINs: a grant of an unknown campaign fails the batch (template_id NOT NULL)
            -- instead of being dropped silently and then acked.
            FROM input x
            LEFT JOIN campaigns c ON c.id = x.campaign_id
            LEFT JOIN templates t ON t.id = c.template_id
            -- A row written first by redeem-before-flush (from the user's grant index, which does
            -- not carry the channel) gets its channel when the stream entry arrives; only rows
            -- actually inserted (xmax = 0) get an `issued` event.
            ON CONFLICT (code) DO UPDATE SET channel = EXCLUDED.channel
                WHERE coupons.channel IS NULL AND EXCLUDED.channel IS NOT NULL
            RETURNING code, campaign_id, issued_at, face_value, xmax = 0 AS fresh
        )
        INSERT INTO coupon_events (code, campaign_id, event, at, face_value)
        SELECT code, campaign_id, 'issued', issued_at, face_value FROM inserted WHERE fresh
        """

    /// Inserts the grants not yet in PostgreSQL; returns how many were new.
    @discardableResult
    public static func write(_ grants: [Grant], on connection: PostgresConnection) throws -> Int {
        guard !grants.isEmpty else { return 0 }
        let binds: [PostgresBindable?] = [
            PostgresArrayLiteral.text(grants.map(\.code)),
            PostgresArrayLiteral.integers(grants.map(\.campaignId)),
            PostgresArrayLiteral.text(grants.map(\.userId)),
            PostgresArrayLiteral.text(grants.map(\.requestId)),
            PostgresArrayLiteral.integers(grants.map(\.issuedAtMs)),
            PostgresArrayLiteral.integers(grants.map(\.validFromMs)),
            PostgresArrayLiteral.integers(grants.map(\.validUntilMs)),
            PostgresArrayLiteral.text(grants.map(\.streamId)),
            PostgresArrayLiteral.text(grants.map { $0.channel ?? "" }),
        ]
        return try connection.execute(sql, binds).rowsAffected
    }
}
