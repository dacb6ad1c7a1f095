import Points
import PostgresClient
import RedisClient

/// One day of points in the reconciliation report (issue 11), from `points_ledger` in the
/// report's time zone: movements (spent and expired as positive amounts, adjusted signed) and
/// the points liability (outstanding points) at the day's start and end. Conservation per day:
/// `closing = opening + earned − spent + refunded − expired + adjusted`.
public struct PointsDay: Sendable, Equatable {
    public var date: String
    public var earned: Int64, spent: Int64, refunded: Int64, expired: Int64, adjusted: Int64
    public var openingLiability: Int64, closingLiability: Int64
}

/// The points section of the reconciliation report and its conservation check.
public enum PointsFigures {
    /// The period's days, or none when the report is for one campaign or no points event
    /// happened up to the period's end (a report without points looks as it did before points).
    public static func read(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [PointsDay] {
        guard period.campaignId == nil else { return [] }
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

    /// `points_conservation`: every user's Redis balance equals their ledger sum plus their
    /// events not yet flushed, and the event numbers have no gap; offenders named by user.
    public static func check(redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> CheckResult {
        let report = try PointsReport.build(fromMs: 0, toMs: 0, redis: redis, postgres: postgres)
        let ledger = try postgres.execute("SELECT coalesce(sum(points), 0)::bigint FROM points_ledger").first?.int64(0) ?? 0
        let unflushed = try PointsKeys.all.reduce(Int64(0)) { $0 + (try redis.command(["XLEN", .string($1.events)]).int ?? 0) }
        let named = report.offenders.prefix(ConservationChecks.namedLimit)
        return CheckResult(
            name: "points_conservation", passed: report.offenders.isEmpty,
            figures: [
                ("users_checked", Int64(report.usersChecked)), ("outstanding_redis", report.outstanding), ("ledger_sum", ledger),
                ("unflushed_events", unflushed), ("offenders", Int64(report.offenders.count)),
            ],
            offenders: named.map { CheckResult.Offender(code: String($0.prefix { $0 != ":" }), streamId: "", issue: "points_balance: " + $0) },
            note: report.offenders.count > named.count ? "\(report.offenders.count - named.count) more offenders not named" : nil)
    }
}
