import CouponCore
import Foundation
import HTTPServer
import PostgresClient
import ServiceTestSupport
import Testing
import TestSupport

/// Helpers shared by the bulk-job tests: upload a list, follow the job.
struct BulkJobClient {
    let port: Int
    let adminKey: String

    func send(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws -> HTTPClientResponse {
        let client = BlockingHTTPClient(host: "127.0.0.1", port: port, timeoutSeconds: 60)
        defer { client.close() }
        return try client.send(
            method: method, path: path, headers: [("Authorization", "Bearer \(adminKey)"), ("Content-Type", "text/csv")] + headers,
            body: body)
    }

    /// Uploads `lines` (joined by newlines); returns the job id.
    func submit(campaignId: Int64, lines: [String]) throws -> Int64 {
        let response = try send("POST", "/v1/campaigns/\(campaignId)/bulk-grants", body: Array(lines.joined(separator: "\n").utf8))
        guard response.status == 202, let id = try JSONParser.parse(response.body)["id"]?.int64Value else {
            throw TestSupportError("bulk submit failed: \(response.status) \(response.bodyString)")
        }
        return id
    }

    func job(_ id: Int64) throws -> JSONValue {
        try JSONParser.parse(try send("GET", "/v1/jobs/\(id)").body)
    }

    /// Waits (up to 30 s) until `node` holds the job and has decided at least `minimum` lines.
    func waitHeld(_ id: Int64, by node: String, done minimum: Int64) -> Bool {
        TestEnvironment.waitUntil(seconds: 30, interval: 0.02) {
            guard let job = try? job(id) else { return false }
            return job["node"]?.stringValue == node && (job.count("done") ?? 0) >= minimum
        }
    }

    /// A running campaign (a fresh amount-off template, limit 1 per user) with `stock`.
    func createCampaign(stock: Int64) throws -> Int64 {
        let template = try send("POST", "/v1/templates", body: Array(TestNode.amountOffTemplate.utf8))
        let templateId = try #require(try JSONParser.parse(template.body)["id"]?.int64Value)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let body = """
            {"template_id":\(templateId),"name":"bulk","stock":\(stock),"per_user_limit":1,
             "claim_start":"\(RFC3339.format(epochMs: now - 60_000))","claim_end":"\(RFC3339.format(epochMs: now + 86_400_000))"}
            """
        let response = try send("POST", "/v1/campaigns", body: Array(body.utf8))
        return try #require(try JSONParser.parse(response.body)["id"]?.int64Value)
    }

    /// Waits until the job is finished (done, cancelled or failed); returns its last status.
    func waitFinished(_ id: Int64, seconds: Double = 60) throws -> JSONValue {
        var last = JSONValue.null
        _ = TestEnvironment.waitUntil(seconds: seconds, interval: 0.05) {
            last = (try? job(id)) ?? .null
            return ["done", "cancelled", "failed"].contains(last["state"]?.stringValue ?? "")
        }
        return last
    }
}

extension JSONValue {
    func count(_ path: String...) -> Int64? {
        var value: JSONValue? = self
        for key in path { value = value?[key] }
        return value?.int64Value
    }
}

/// Waits (up to 30 s) until `expected` coupons of `campaign` are in the database; returns how
/// many rows and distinct users it found.
func flushedCoupons(campaign: Int64, expected: Int, conninfo: String) throws -> (rows: Int, users: Int) {
    let postgres = try PostgresConnection(conninfo: conninfo)
    var found = (rows: 0, users: 0)
    _ = TestEnvironment.waitUntil(seconds: 30, interval: 0.1) {
        guard let row = try? postgres.execute(
            "SELECT count(*), count(DISTINCT user_id) FROM coupons WHERE campaign_id = $1", [campaign]).first
        else { return false }
        found = ((try? row.int(0)) ?? 0, (try? row.int(1)) ?? 0)
        return found.rows >= expected
    }
    return found
}

/// The totals a resumed job of `bulkTestLines` must end with: done on `node` after `resumes`
/// takeovers, `granted` grants, one `limit_reached` per duplicate line, the rest sold out.
func expectResumedJob(_ status: JSONValue, node: String, resumes: Int64, lines: Int64, granted: Int64) {
    #expect(status["state"]?.stringValue == "done")
    #expect(status["node"]?.stringValue == node)
    #expect(status.count("resumes") == resumes)
    #expect(status.count("done") == lines)
    #expect(status.count("granted") == granted)
    #expect(status.count("refused", "limit_reached") == lines / 100)
    #expect(status.count("refused", "sold_out") == lines - lines / 100 - granted)
}
