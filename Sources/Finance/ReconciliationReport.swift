import PostgresClient
import RedisClient

/// The reconciliation report: a period section computed from `coupon_events` only (the same
/// bytes whenever a closed period is asked for again) and a checks section that describes
/// Redis, the stream and PostgreSQL as of `checkedAt` (it changes as the system runs).
public struct ReconciliationReport: Sendable, Equatable {
    public let period: ReportPeriod
    /// Campaigns with any event before the period's end (or the one asked for), by id.
    public let campaigns: [CampaignPeriod]
    /// Nil when the checks were not asked for.
    public let checks: [CampaignChecks]?
    /// RFC 3339 UTC time of the checks (PostgreSQL `now()`).
    public let checkedAt: String?
    /// The period's figures by campaign and channel (issue 12; `ChannelFigures.period`).
    public var channels: [Int64: [ChannelFigures]] = [:]

    /// Points per day (issue 11; empty for a one-campaign report or when there are no points).
    public var points: [PointsDay] = []
    /// `points_conservation` (with the checks, for a report over all campaigns).
    public var pointsCheck: CheckResult?

    public var passed: Bool { (checks?.allSatisfy(\.passed) ?? true) && (pointsCheck?.passed ?? true) }

    public static func build(
        period: ReportPeriod, includeChecks: Bool, postgres: PostgresConnection, redis: () throws -> BlockingRedisConnection
    ) throws -> ReconciliationReport {
        let campaigns = try PeriodFigures.read(period, on: postgres)
        let points = try PointsFigures.read(period, on: postgres)
        let channels = try ChannelFigures.period(period, on: postgres)
        guard includeChecks else {
            var report = ReconciliationReport(period: period, campaigns: campaigns, checks: nil, checkedAt: nil)
            report.points = points
            report.channels = channels
            return report
        }
        let times = try FinanceStore.checkTimes(period, on: postgres)
        // Checks cover every campaign in scope, also those with grants not yet in PostgreSQL.
        let ids = try FinanceStore.campaignIds(only: period.campaignId, on: postgres)
        let checks = try ConservationChecks.run(campaignIds: ids, periodEndMs: times.periodEndMs, redis: redis(), postgres: postgres)
        var report = ReconciliationReport(period: period, campaigns: campaigns, checks: checks, checkedAt: times.now)
        report.points = points
        report.channels = channels
        if period.campaignId == nil { report.pointsCheck = try PointsFigures.check(redis: redis(), postgres: postgres) }
        return report
    }
}
