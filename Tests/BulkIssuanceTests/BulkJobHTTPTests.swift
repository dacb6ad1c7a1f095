import CouponCore
import CouponService
import Foundation
import HTTPServer
import Issuance
import ServiceTestSupport
import Testing
import TestSupport

/// Bulk grant jobs through HTTP on one in-process node: the claim decision per line, the
/// counters, the refusals CSV, the coupons in PostgreSQL, bad input, cancel.
@Suite(.serialized) struct BulkJobHTTPTests {
    @Test func aJobGrantsThroughTheClaimDecisionAndReportsEveryRefusal() throws {
        let node = try TestNode.start { $0.bulkLinesRetentionSeconds = 0 }
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let campaign = try node.createCampaign(stock: 50, perUserLimit: 1)
        // 95 users, then 5 duplicates of the first five: 50 granted, 45 sold out, 5 limit_reached.
        let lines = ["user_id,segment"] + (1...95).map { "u\($0),vip" } + (1...5).map { "u\($0),vip" }
        let id = try bulk.submit(campaignId: campaign, lines: lines)
        let status = try bulk.waitFinished(id)
        #expect(status["state"]?.stringValue == "done")
        #expect(status.count("total") == 100)
        #expect(status.count("done") == 100)
        #expect(status.count("granted") == 50)
        #expect(status.count("refused", "sold_out") == 45)
        #expect(status.count("refused", "limit_reached") == 5)
        #expect(status.count("refused_total") == 50)
        #expect(status.count("resumes") == 0)

        let csv = try bulk.send("GET", "/v1/jobs/\(id)/refusals")
        #expect(csv.status == 200)
        let rows = csv.bodyString.split(separator: "\n").map(String.init)
        #expect(rows.count == 51)
        #expect(rows.first == "line,user_id,reason")
        #expect(rows[1] == "51,u51,sold_out")
        #expect(Array(rows.suffix(5)) == (1...5).map { "\(95 + $0),u\($0),limit_reached" })
        // Finished (retention 0 here): the idle runner deletes the job's staged lines; its
        // refusals, counters and grants stay.
        let staged = { try node.postgres().execute("SELECT count(*) FROM bulk_job_lines WHERE job_id = $1", [id]).first!.int(0) }
        #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.05) { (try? staged()) == 0 })
        #expect(try bulk.send("GET", "/v1/jobs/\(id)/refusals").bodyString == csv.bodyString)
        #expect(try bulk.job(id).count("granted") == 50)

        #expect(try node.waitForFlush(campaignId: campaign, expected: 50))
        let stored = try node.postgres().execute(
            "SELECT count(DISTINCT user_id), min(user_id), count(*) FILTER (WHERE request_id LIKE $2) FROM coupons WHERE campaign_id = $1",
            [campaign, "bulk-\(id)-%"]
        ).first!
        #expect(try stored.int(0) == 50)
        #expect(try stored.int(2) == 50)
        // A claim afterwards meets the same state: stock is gone.
        #expect(try node.claim(campaignId: campaign, userId: "late", requestId: "r-late").status == 409)
    }

    @Test func badUploadsAreRefusedAndCreateNothing() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let path = "/v1/campaigns/\(campaign)/bulk-grants"

        let badLine = try bulk.send("POST", path, body: Array("u1\nbad id\nu3\n".utf8))
        #expect(badLine.status == 400)
        #expect(badLine.bodyString.contains("line 2: user id must be"))
        #expect(try bulk.send("POST", path, body: Array("\n\n".utf8)).status == 400)
        #expect(try bulk.send("POST", path, body: Array(#"{"segment_id":1}"#.utf8)).status == 400)
        #expect(try bulk.send("POST", "/v1/campaigns/999999/bulk-grants", body: Array("u1\n".utf8)).status == 404)
        let asIssuer = try node.request("POST", path, as: .issue, body: "u1\n")
        #expect(asIssuer.status == 403)
        #expect(try bulk.send("GET", "/v1/jobs/424242").status == 404)
        #expect(try bulk.send("POST", "/v1/jobs/424242/cancel").status == 404)
        let jobs = try node.postgres().execute("SELECT (SELECT count(*) FROM bulk_jobs), (SELECT count(*) FROM bulk_job_lines)").first!
        #expect(try jobs.int(0) == 0)
        #expect(try jobs.int(1) == 0)
        #expect(try node.redisStock(campaign) == 10)

        // The same Idempotency-Key and body: the same job, not a second one.
        let first = try bulk.send("POST", path, body: Array("a1\na2\n".utf8), headers: [("Idempotency-Key", "upload-1")])
        let again = try bulk.send("POST", path, body: Array("a1\na2\n".utf8), headers: [("Idempotency-Key", "upload-1")])
        #expect(first.status == 202)
        #expect(again.status == 202)
        #expect(try JSONParser.parse(first.body)["id"] == JSONParser.parse(again.body)["id"])
        let other = try bulk.send("POST", path, body: Array("a3\n".utf8), headers: [("Idempotency-Key", "upload-1")])
        #expect(other.status == 422)
    }

    @Test func aCancelledJobStopsAndItsCountersMatchRedis() throws {
        let node = try TestNode.start { configuration in
            configuration.bulkBatchSize = 20
            configuration.bulkMaxLinesPerSecond = 400
        }
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let campaign = try node.createCampaign(stock: 5_000, perUserLimit: 1)
        let id = try bulk.submit(campaignId: campaign, lines: (1...2_000).map { "c\($0)" })
        #expect(TestEnvironment.waitUntil(seconds: 20, interval: 0.02) { ((try? bulk.job(id))?.count("done") ?? 0) >= 100 })
        let cancelled = try JSONParser.parse(try bulk.send("POST", "/v1/jobs/\(id)/cancel").body)
        #expect(cancelled["state"]?.stringValue == "cancelled")
        Thread.sleep(forTimeInterval: 0.5)  // a batch in flight at the cancel still commits
        let settled = try bulk.job(id)
        Thread.sleep(forTimeInterval: 0.5)
        let later = try bulk.job(id)
        #expect(later.count("done") == settled.count("done"))
        let done = try #require(later.count("done"))
        #expect(done < 2_000)
        #expect(later.count("granted") == done)
        #expect(try node.redisMeta(campaign, "issued") == String(done))
    }

    @Test func theCommandLineSubmitsStreamsAndReportsAJob() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 3, perUserLimit: 1)
        let directory = try TestEnvironment.makeTemporaryDirectory(prefix: "bulk-cli")
        let file = directory + "/users.csv"
        try "user_id\nk1\nk2\nk1\nk3\nk4\n".write(toFile: file, atomically: true, encoding: .utf8)
        var printed: [String] = []
        #expect(try Commands.jobs(["submit", "--campaign-id", String(campaign), file], node.configuration) { printed.append($0) } == 0)
        let id = try #require(printed.first.flatMap { $0.split(separator: " ")[1].dropLast() }.flatMap { Int64($0) })
        #expect(printed.first == "job \(id): 5 user ids queued for campaign \(campaign)")
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        #expect(try bulk.waitFinished(id)["state"]?.stringValue == "done")
        printed = []
        #expect(try Commands.jobs(["refusals", String(id)], node.configuration) { printed.append($0) } == 0)
        #expect(printed == ["line,user_id,reason\n3,k1,limit_reached\n5,k4,sold_out"])
        printed = []
        #expect(try Commands.jobs(["status", String(id)], node.configuration) { printed.append($0) } == 0)
        let status = try JSONParser.parse(Array(printed.joined().utf8))
        #expect(status.count("granted") == 3)
        #expect(throws: Configuration.Error.self) {
            try Commands.jobs(["submit", "--campaign-id", "999999", file], node.configuration) { _ in }
        }
    }
}
