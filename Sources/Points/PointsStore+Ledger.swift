import PostgresClient
import Store

/// The ledger questions of the report, the refund and the rebuild (issue 9): `points_ledger`
/// and the exchange coupons it paid for, answered as Swift values. Read-only. Errors are
/// `PostgresError` (typed `code` and `condition`).
extension PointsStore {
    /// One day's sum of one kind of event (UTC days, ledger `at` in [fromMs, toMs)).
    struct DailyMovement: Equatable {
        let day: String
        let kind: String
        let points: Int64
    }

    static func dailyMovements(fromMs: Int64, toMs: Int64, on connection: PostgresConnection) throws -> [DailyMovement] {
        try connection.execute(
            """
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), kind, sum(points)::bigint FROM points_ledger
            WHERE at >= timestamptz 'epoch' + $1 * interval '1 millisecond' AND at < timestamptz 'epoch' + $2 * interval '1 millisecond'
            GROUP BY 1, 2 ORDER BY 1
            """, [fromMs, toMs]
        ).map { DailyMovement(day: try $0.string(0), kind: try $0.string(1), points: try $0.int64(2)) }
    }

    /// Per user: the sum of the ledger's points and its number of events.
    static func ledgerTotals(on connection: PostgresConnection) throws -> [String: (sum: Int64, count: Int64)] {
        var totals: [String: (sum: Int64, count: Int64)] = [:]
        for row in try connection.execute("SELECT user_id, sum(points)::bigint, count(*) FROM points_ledger GROUP BY user_id") {
            totals[try row.string(0)] = (try row.int64(1), try row.int64(2))
        }
        return totals
    }

    /// A user's ledger as event number → points.
    static func ledgerPoints(of userId: String, on connection: PostgresConnection) throws -> [Int64: Int64] {
        var events: [Int64: Int64] = [:]
        for row in try connection.execute("SELECT seq, points FROM points_ledger WHERE user_id = $1", [userId]) {
            events[try row.int64(0)] = try row.int64(1)
        }
        return events
    }

    /// Every user with at least one ledger event.
    static func ledgerUsers(on connection: PostgresConnection) throws -> [String] {
        try connection.execute("SELECT DISTINCT user_id FROM points_ledger").map { try $0.string(0) }
    }

    /// The ledger events of `users`, by user then event number, as the replay needs them
    /// (`atMs` is not read: the replay does not use it).
    static func replayEvents(of users: [String], on connection: PostgresConnection) throws -> [PointsEvent] {
        try connection.execute(
            """
            SELECT user_id, seq, kind, points, balance_after, (extract(epoch FROM lot_expires_at) * 1000)::bigint, campaign_id, request_id, draw_id
            FROM points_ledger WHERE user_id = ANY($1::text[]) ORDER BY user_id, seq
            """, [PostgresArrayLiteral.text(users)]
        ).map { row in
            PointsEvent(
                userId: try row.string(0), seq: try row.int64(1), kind: PointsEventKind(rawValue: try row.string(2)) ?? .adjust,
                points: try row.int64(3), balanceAfter: try row.int64(4), atMs: 0, lotExpiryMs: try row.optionalInt64(5),
                requestId: try row.optionalString(7), campaignId: try row.optionalInt64(6), drawId: try row.optionalInt64(8))
        }
    }

    /// The campaign and request a user's coupon was granted by; nil when the user has no such coupon.
    static func couponOrigin(code: String, userId: String, on connection: PostgresConnection) throws -> (campaignId: Int64, requestId: String)? {
        try connection.execute("SELECT campaign_id, request_id FROM coupons WHERE code = $1 AND user_id = $2", [code, userId]).first
            .map { (try $0.int64(0), try $0.string(1)) }
    }

    /// The points an exchange (not a draw) cost, from its `spend` ledger entry; nil before it is flushed or when there is none.
    static func exchangeCost(campaignId: Int64, requestId: String, userId: String, on connection: PostgresConnection) throws -> Int64? {
        try connection.execute(
            "SELECT -points FROM points_ledger WHERE kind = 'spend' AND campaign_id = $1 AND request_id = $2 AND user_id = $3 AND draw_id IS NULL",
            [campaignId, requestId, userId]
        ).first.map { try $0.int64(0) }
    }
}
