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

    public var passed: Bool { checks?.allSatisfy(\.passed) ?? true }

    public static func build(
        period: ReportPeriod, includeChecks: Bool, postgres: PostgresConnection, redis: () throws -> BlockingRedisConnection
    ) throws -> ReconciliationReport {
        let campaigns = try PeriodFigures.read(period, on: postgres)
        let channels = try ChannelFigures.period(period, on: postgres)
        guard includeChecks else {
            var report = ReconciliationReport(period: period, campaigns: campaigns, checks: nil, checkedAt: nil)
            report.channels = channels
            return report
        }
        let row = try postgres.execute(
            """
            SELECT (extract(epoch FROM (($1::date + 1)::timestamp AT TIME ZONE $2::text)) * 1000)::bigint,
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
            """, [period.to, period.timeZone]
        ).first!
        // Checks cover every campaign in scope, also those with grants not yet in PostgreSQL.
        let ids = try postgres.execute(
            "SELECT id FROM campaigns WHERE $1::bigint IS NULL OR id = $1::bigint ORDER BY id", [period.campaignId]
        ).map { try $0.int64(0) }
        let checks = try ConservationChecks.run(campaignIds: ids, periodEndMs: try row.int64(0), redis: redis(), postgres: postgres)
        var report = ReconciliationReport(period: period, campaigns: campaigns, checks: checks, checkedAt: try row.string(1))
        report.channels = channels
        return report
    }
}
