import PostgresClient

/// Finance's questions about points (issue 11), answered from `points_ledger` and `campaign_points`.
extension FinanceStore {
    /// An exchange campaign's (or a draw's prize campaign's) points figures; nil for any other campaign.
    static func exchangePointsStats(campaignId: Int64, on postgres: PostgresConnection) throws -> ExchangePointsStats? {
        guard let row = try postgres.execute(
            """
            SELECT p.points_cost, p.min_points_balance, p.prize_of_draw,
                   (SELECT count(*) FROM points_ledger WHERE campaign_id = $1 AND draw_id IS NULL AND kind = 'spend'),
                   (SELECT count(*) FROM points_ledger WHERE campaign_id = $1 AND draw_id IS NULL AND kind = 'refund'),
                   (SELECT coalesce(-sum(points), 0)::bigint FROM points_ledger WHERE campaign_id = $1 AND draw_id IS NULL AND kind IN ('spend', 'refund'))
            FROM campaign_points p WHERE p.campaign_id = $1
            """, [campaignId]).first
        else { return nil }
        return ExchangePointsStats(
            pointsCost: try row.int64(0), minPointsBalance: try row.int64(1), prizeOfDraw: try row.optionalInt64(2), spends: try row.int64(3),
            refunds: try row.int64(4), pointsConsumed: try row.int64(5))
    }

    /// The period's days of points movements and liability, or none when no points event happened
    /// up to the period's end.
    static func pointsDays(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [PointsDay] {
        let rows = try connection.execute(
            """
            WITH d AS (SELECT generate_series($1::date, $2::date, interval '1 day')::date AS day),
                 e AS (SELECT (at AT TIME ZONE $3::text)::date AS day, kind, sum(points)::bigint AS s FROM points_ledger
                       WHERE at < (($2::date + 1)::timestamp AT TIME ZONE $3::text) GROUP BY 1, 2)
            SELECT to_char(d.day, 'YYYY-MM-DD'),
                   coalesce(sum(e.s) FILTER (WHERE e.day = d.day AND e.kind = 'earn'), 0)::bigint,
                   coalesce(-sum(e.s) FILTER (WHERE e.day = d.day AND e.kind = 'spend'), 0)::bigint,
                   coalesce(sum(e.s) FILTER (WHERE e.day = d.day AND e.kind = 'refund'), 0)::bigint,
                   coalesce(-sum(e.s) FILTER (WHERE e.day = d.day AND e.kind = 'expire'), 0)::bigint,
                   coalesce(sum(e.s) FILTER (WHERE e.day = d.day AND e.kind = 'adjust'), 0)::bigint,
                   coalesce(sum(e.s) FILTER (WHERE e.day < d.day), 0)::bigint,
                   coalesce(sum(e.s), 0)::bigint,
                   count(e.day)
            FROM d LEFT JOIN e ON e.day <= d.day GROUP BY d.day ORDER BY d.day
            """, [period.from, period.to, period.timeZone])
        let days = try rows.map { row in
            PointsDay(
                date: try row.string(0), earned: try row.int64(1), spent: try row.int64(2), refunded: try row.int64(3), expired: try row.int64(4),
                adjusted: try row.int64(5), openingLiability: try row.int64(6), closingLiability: try row.int64(7))
        }
        let anyEvent = try rows.contains { try $0.int64(8) > 0 }
        return anyEvent ? days : []
    }

    /// Σ points over the whole ledger (the points liability PostgreSQL knows of).
    static func pointsLedgerSum(on postgres: PostgresConnection) throws -> Int64 {
        try postgres.execute("SELECT coalesce(sum(points), 0)::bigint FROM points_ledger").first?.int64(0) ?? 0
    }
}
