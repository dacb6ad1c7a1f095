import CouponCore
import CouponService
import Foundation
import Glibc
import HTTPServer
import Issuance
import PostgresClient
import ServiceTestSupport
import Testing
import TestSupport

/// Lines of a bulk job with one duplicate in a hundred: line i is user `u<i>`, except every
/// hundredth line, which repeats the user of line k = i/100 (k - 1 when k is itself a
/// duplicate line): a user granted early, so its duplicate is refused `limit_reached`
/// whatever the stock. The same list as load-tests/bulk-job.sh.
func bulkTestLines(_ count: Int) -> [String] {
    (1...count).map { line in
        var k = line / 100
        if k % 100 == 0 { k -= 1 }
        return line % 100 == 0 ? "u\(k)" : "u\(line)"
    }
}

/// The node running a bulk job is SIGKILLed twice mid-job: the next node resumes from the
/// last checkpoint, the totals are those of an uninterrupted run, every grant is in Redis
/// and PostgreSQL exactly once.
@Suite(.serialized) struct BulkJobResumeTests {
    @Test func aJobSurvivesTwoKilledNodesExactlyOnce() throws {
        let redis = try RedisServer.start(appendOnly: true, appendFsyncAlways: true)
        let database = try PostgresServer.shared().createDatabase(prefix: "bulk")
        let admin = try Commands.createKey(role: .admin, label: "test", conninfo: database)
        let settings = [
            "REDIS": redis.endpoint.description, "POSTGRES": database, "BULK_LEASE_SECONDS": "1", "BULK_BATCH_SIZE": "100",
            "BULK_MAX_LINES_PER_SECOND": "2500", "FLUSHER_TAKEOVER_IDLE_MS": "300", "FLUSHER_SWEEP_SECONDS": "0.5",
        ]
        func start(_ name: String) throws -> NodeProcess {
            try NodeProcess.start(settings: settings.merging(["NODE_ID": name]) { $1 })
        }
        var first: NodeProcess? = try start("node-a")
        let client = BulkJobClient(port: first!.port, adminKey: admin)
        let campaign = try client.createCampaign(stock: 6_000)
        let id = try client.submit(campaignId: campaign, lines: bulkTestLines(8_000))

        #expect(BulkJobClient(port: first!.port, adminKey: admin).waitHeld(id, by: "node-a", done: 1_500))
        _ = first!.stop(signal: SIGKILL)
        first = nil

        var second: NodeProcess? = try start("node-b")
        #expect(BulkJobClient(port: second!.port, adminKey: admin).waitHeld(id, by: "node-b", done: 4_000))
        _ = second!.stop(signal: SIGKILL)
        second = nil

        let third = try start("node-c")
        defer { _ = third.stop() }
        let watcher = BulkJobClient(port: third.port, adminKey: admin)
        let status = try watcher.waitFinished(id, seconds: 60)
        expectResumedJob(status, node: "node-c", resumes: 2, lines: 8_000, granted: 6_000)

        let csv = try watcher.send("GET", "/v1/jobs/\(id)/refusals").bodyString.split(separator: "\n")
        #expect(csv.count == 2_001)
        #expect(csv.filter { $0.hasSuffix(",limit_reached") }.count == 80)
        #expect(csv.filter { $0.hasSuffix(",limit_reached") }.allSatisfy { Int64($0.split(separator: ",")[0])! % 100 == 0 })

        let keys = CampaignKeys(campaignId: campaign)
        let redisClient = try redis.client()
        // (The stream is trimmed once flushed; Redis' grant counter and PostgreSQL count grants.)
        #expect(try redisClient.command(["HGET", .string(keys.meta), "issued"]).string == "6000")
        let rows = try flushedCoupons(campaign: campaign, expected: 6_000, conninfo: database)
        #expect(rows.rows == 6_000)
        #expect(rows.users == 6_000)
    }
}
