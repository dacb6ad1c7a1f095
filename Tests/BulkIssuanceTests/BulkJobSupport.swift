import CouponCore
import Foundation
import HTTPServer
import ServiceTestSupport
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
