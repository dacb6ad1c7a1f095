import Finance
import Foundation
import PostgresClient
import RedisClient

extension Commands {
    /// `reconcile --from D --to D [--campaign-id N] [--tz Area/City] [--format table|csv|json]`:
    /// the reconciliation report on stdout. Returns the exit status: 0 when every check
    /// passes, 1 when any fails (a cron job can page on it), 2 on bad arguments.
    /// CSV holds the period rows only; the checks' verdict then goes to stderr.
    public static func reconcile(
        _ arguments: [String], _ configuration: Configuration,
        output: (String) -> Void = { print($0, terminator: "") },
        errors: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) throws -> Int32 {
        let options = try parseOptions(arguments, allowed: ["from", "to", "campaign-id", "tz", "format"], positional: [])
        let format = options["format"] ?? "table"
        guard ["table", "csv", "json"].contains(format) else {
            throw Configuration.Error(description: "reconcile --format must be table, csv or json")
        }
        let postgres = try PostgresConnection(conninfo: configuration.postgres)
        let report: ReconciliationReport
        do {
            let period = try ReportPeriod.validate(
                from: options["from"], to: options["to"], timeZone: options["tz"], campaignId: options["campaign-id"], on: postgres)
            report = try ReconciliationReport.build(period: period, includeChecks: true, postgres: postgres) {
                try BlockingRedisConnection.open(configuration.redisDeployment, timeoutSeconds: 10)
            }
        } catch let error as FinanceError {
            errors("coupond reconcile: \(error.message)\n")
            return 2
        }
        switch format {
        case "json": output(String(decoding: report.json(), as: UTF8.self) + "\n")
        case "csv":
            output(report.csv())
            if !report.passed {
                let failed = (report.checks ?? []).flatMap { campaign in
                    campaign.checks.filter { !$0.passed }.map { "campaign \(campaign.campaignId) \($0.name)" }
                } + (report.pointsCheck.map { $0.passed ? [] : [$0.name] } ?? [])
                errors("coupond reconcile: checks failed: \(failed.joined(separator: ", "))\n")
            }
        default: output(report.table())
        }
        return report.passed ? 0 : 1
    }
}
