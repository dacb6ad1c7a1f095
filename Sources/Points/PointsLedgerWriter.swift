import PostgresClient
import Store

/// Writes points events into `points_ledger` idempotently (`ON CONFLICT (user_id, seq) DO
/// NOTHING`), in the caller's transaction; returns how many rows were new.
public enum PointsLedgerWriter {
    static let sql = """
        INSERT INTO points_ledger (user_id, seq, kind, points, balance_after, at, lot_expires_at, reason, order_id,
                                   idempotency_key, campaign_id, request_id, draw_id)
        SELECT u, s, k, p, b, timestamptz 'epoch' + at * interval '1 millisecond',
               timestamptz 'epoch' + NULLIF(e, '')::bigint * interval '1 millisecond',
               NULLIF(r, ''), NULLIF(o, ''), NULLIF(i, ''), NULLIF(c, '')::bigint, NULLIF(x, ''), NULLIF(d, '')::bigint
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[],
                    $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS t(u, s, k, p, b, at, e, r, o, i, c, x, d)
        ON CONFLICT (user_id, seq) DO NOTHING
        """

    @discardableResult
    public static func write(_ events: [PointsEvent], on connection: PostgresConnection) throws -> Int {
        guard !events.isEmpty else { return 0 }
        let binds: [PostgresBindable?] = [
            PostgresArrayLiteral.text(events.map(\.userId)),
            PostgresArrayLiteral.integers(events.map(\.seq)),
            PostgresArrayLiteral.text(events.map(\.kind.rawValue)),
            PostgresArrayLiteral.integers(events.map(\.points)),
            PostgresArrayLiteral.integers(events.map(\.balanceAfter)),
            PostgresArrayLiteral.integers(events.map(\.atMs)),
            PostgresArrayLiteral.text(events.map { $0.lotExpiryMs.map(String.init) ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.reason ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.orderId ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.idempotencyKey ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.campaignId.map(String.init) ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.requestId ?? "" }),
            PostgresArrayLiteral.text(events.map { $0.drawId.map(String.init) ?? "" }),
        ]
        return try connection.execute(sql, binds).rowsAffected
    }
}
