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
        return try FinanceStore.pointsDays(period, on: connection)
    }

    /// `points_conservation`: every user's Redis balance equals their ledger sum plus their
    /// events not yet flushed, and the event numbers have no gap; offenders named by user.
    public static func check(redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> CheckResult {
        let report = try PointsReport.build(fromMs: 0, toMs: 0, redis: redis, postgres: postgres)
        let ledger = try FinanceStore.pointsLedgerSum(on: postgres)
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
