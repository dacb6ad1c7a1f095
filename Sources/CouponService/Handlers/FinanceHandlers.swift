import CouponCore
import Finance
import HTTPServer

/// `GET /v1/campaigns/{id}/stats` (roles `finance`, `admin`) and
/// `GET /v1/reports/reconciliation` (role `finance`). Read-only, on worker threads.
struct FinanceHandlers {
    let api: API

    func stats(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
        api.blocking(responder) { context in
            guard let stats = try CampaignStats.read(campaignId: id, postgres: context.postgres(), redis: context.redis()) else {
                return APIError.notFound("campaign")
            }
            return .json(body: stats.json())
        }
    }

    func reconciliation(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let query = request.query
        let format = query["format"] ?? "json"
        guard format == "json" || format == "csv" else { return responder.respond(APIError.invalid("format must be json or csv")) }
        // `section=channels` (CSV): the period's figures by campaign and channel instead of by day (issue 12).
        let section = query["section"] ?? "days"
        guard section == "days" || section == "channels" else { return responder.respond(APIError.invalid("section must be days or channels")) }
        let includeChecks: Bool
        switch query["checks"] ?? "true" {
        case "true": includeChecks = true
        case "false": includeChecks = false
        default: return responder.respond(APIError.invalid("checks must be true or false"))
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            let report: ReconciliationReport
            do {
                let period = try ReportPeriod.validate(
                    from: query["from"], to: query["to"], timeZone: query["tz"], campaignId: query["campaign_id"], on: postgres)
                report = try ReconciliationReport.build(
                    period: period, includeChecks: includeChecks && format == "json", postgres: postgres, redis: context.redis)
            } catch let error as FinanceError {
                switch error.code {
                case .invalidRequest: return APIError.invalid(error.message)
                case .notFound: return APIError.notFound("campaign")
                }
            }
            if format == "csv" {
                var response = HTTPResponse.text(
                    section == "channels" ? report.channelCSV() : report.csv(), contentType: "text/csv; charset=utf-8; header=present")
                response.headers.add(
                    name: "Content-Disposition",
                    value: "attachment; filename=\"reconciliation-\(report.period.from)-\(report.period.to).csv\"")
                return response
            }
            return .json(body: report.json())
        }
    }

    /// `GET /v1/reports/stores?from=&to=[&tz=][&store_id=]` (role `finance`): in-store
    /// write-offs, their discount and restores, by store and day.
    func stores(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let query = request.query
        if let storeId = query["store_id"], !Identifier.isValid(storeId) {
            return responder.respond(APIError.invalid("store_id \(Identifier.rule)"))
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            do {
                let period = try ReportPeriod.validate(from: query["from"], to: query["to"], timeZone: query["tz"], campaignId: nil, on: postgres)
                return .json(body: try StoreReport.build(period: period, storeId: query["store_id"], on: postgres).json())
            } catch let error as FinanceError {
                return APIError.invalid(error.message)
            }
        }
    }
}
