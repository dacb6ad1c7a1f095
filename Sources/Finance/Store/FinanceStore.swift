import PostgresClient
import Store

/// Finance's repository: every PostgreSQL question Finance asks, read-only, answered as Swift
/// values. PostgreSQL does the date arithmetic and knows the time zones. Errors are
/// `PostgresError` (typed `code` and `condition`) or `FinanceError` where a value is the
/// caller's mistake.
enum FinanceStore {
    /// What PostgreSQL says of a requested period.
    struct PeriodCheck: Equatable {
        /// Both dates are real calendar dates written canonically.
        var validDates: Bool
        /// `to - from` in days (negative: `from` is after `to`).
        var spanDays: Int
        var zoneKnown: Bool
    }

    static func checkPeriod(from: String, to: String, zone: String, on connection: PostgresConnection) throws -> PeriodCheck {
        do {
            let row = try connection.execute(
                """
                SELECT to_char($1::date, 'YYYY-MM-DD') = $1::text AND to_char($2::date, 'YYYY-MM-DD') = $2::text,
                       $2::date - $1::date,
                       EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $3::text)
                """, [from, to, zone]
            ).first!
            return PeriodCheck(validDates: try row.bool(0), spanDays: try row.int(1), zoneKnown: try row.bool(2))
        } catch let error as PostgresError where error.condition == .invalidValue {
            return PeriodCheck(validDates: false, spanDays: 0, zoneKnown: false)
        }
    }

    /// The days `from`...`to`, `YYYY-MM-DD`, in order.
    static func days(from: String, to: String, on connection: PostgresConnection) throws -> [String] {
        try connection.execute(
            "SELECT to_char($1::date + n, 'YYYY-MM-DD') FROM generate_series(0, $2::date - $1::date) AS n ORDER BY n", [from, to]
        ).map { try $0.string(0) }
    }

    static func campaignExists(_ id: Int64, on connection: PostgresConnection) throws -> Bool {
        !(try connection.execute("SELECT 1 FROM campaigns WHERE id = $1", [id]).isEmpty)
    }

    /// Every campaign id, or only `id` when given and it exists; ascending.
    static func campaignIds(only id: Int64?, on connection: PostgresConnection) throws -> [Int64] {
        try connection.execute("SELECT id FROM campaigns WHERE $1::bigint IS NULL OR id = $1::bigint ORDER BY id", [id])
            .map { try $0.int64(0) }
    }

    static func currencies(of ids: [Int64], on connection: PostgresConnection) throws -> [Int64: String] {
        var currency: [Int64: String] = [:]
        for row in try connection.execute(
            "SELECT c.id, t.currency FROM campaigns c JOIN templates t ON t.id = c.template_id WHERE c.id = ANY($1::bigint[])",
            [PostgresArrayLiteral.integers(ids)])
        {
            currency[try row.int64(0)] = try row.string(1)
        }
        return currency
    }

    static func stockTotals(of ids: [Int64], on connection: PostgresConnection) throws -> [Int64: Int64] {
        Dictionary(
            uniqueKeysWithValues: try connection.execute(
                "SELECT id, stock_total FROM campaigns WHERE id = ANY($1::bigint[])", [PostgresArrayLiteral.integers(ids)]
            ).map { (try $0.int64(0), try $0.int64(1)) })
    }

    /// Which of `codes` have a coupon row.
    static func existingCodes(_ codes: [String], on connection: PostgresConnection) throws -> Set<String> {
        guard !codes.isEmpty else { return [] }
        return Set(
            try connection.execute("SELECT code FROM coupons WHERE code = ANY($1::text[])", [PostgresArrayLiteral.text(codes)])
                .map { try $0.string(0) })
    }

    /// Coupon rows of a campaign whose stream id is at or below `lastStreamId` (all when nil).
    static func rowCount(campaignId: Int64, upTo lastStreamId: String?, on connection: PostgresConnection) throws -> Int64 {
        try connection.execute(
            """
            SELECT count(*) FROM coupons
            WHERE campaign_id = $1
              AND ($2::text IS NULL OR (stream_id ~ '^[0-9]+-[0-9]+$'
                   AND (split_part(stream_id, '-', 1)::numeric, split_part(stream_id, '-', 2)::numeric)
                       <= (split_part($2::text, '-', 1)::numeric, split_part($2::text, '-', 2)::numeric)))
            """, [campaignId, lastStreamId]
        ).first!.int64(0)
    }

    /// The end of `period` in epoch milliseconds, and PostgreSQL's `now()` as RFC 3339 UTC.
    static func checkTimes(_ period: ReportPeriod, on connection: PostgresConnection) throws -> (periodEndMs: Int64, now: String) {
        let row = try connection.execute(
            """
            SELECT (extract(epoch FROM (($1::date + 1)::timestamp AT TIME ZONE $2::text)) * 1000)::bigint,
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
            """, [period.to, period.timeZone]
        ).first!
        return (try row.int64(0), try row.string(1))
    }
}
