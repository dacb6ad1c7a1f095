import CouponCore
import CouponService
import Foundation
import Glibc
import HTTPServer
import Issuance
import PostgresClient
import RedisClient
import ServiceTestSupport
import Testing
import TestSupport

/// Bulk jobs on Redis Cluster (3 masters + 3 replicas): each batch's script calls go to the
/// campaign's master, the flushers' dirty mark to its own, and a job whose
/// node is SIGKILLed is resumed by another node exactly once — the same guarantees as on one Redis.
@Suite(.serialized) struct BulkJobClusterTests {
    @Test func aJobOnAClusterGrantsLikeOnOneRedis() throws {
        let node = try TestNode.start(backend: .cluster)
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let campaign = try node.createCampaign(stock: 50, perUserLimit: 1)
        // 95 users, then 5 duplicates of the first five: 50 granted, 45 sold out, 5 limit_reached.
        let id = try bulk.submit(campaignId: campaign, lines: (1...95).map { "u\($0)" } + (1...5).map { "u\($0)" })
        let status = try bulk.waitFinished(id)
        #expect(status["state"]?.stringValue == "done")
        #expect(status.count("granted") == 50)
        #expect(status.count("refused", "sold_out") == 45)
        #expect(status.count("refused", "limit_reached") == 5)
        #expect(try node.redisStock(campaign) == 0)

        // Bulk grants are not put in wallet indexes (their users hear of them once flushed):
        // no user's index key exists on any master; the wallet shows the coupon once flushed.
        let redis = try #require(node.cluster).client()
        for user in 1...95 {
            #expect(try redis.command(["EXISTS", .string(GrantHints.userIndex(of: "u\(user)"))]).int == 0)
        }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 50))
        let wallet = try node.request("GET", "/v1/users/u7/coupons", as: .checkout)
        #expect(wallet.status == 200)
        #expect(wallet.bodyString.components(separatedBy: "\"campaign_id\":\(campaign)").count == 2)
        let stored = try node.postgres().execute(
            "SELECT count(DISTINCT user_id), count(*) FILTER (WHERE request_id LIKE $2 AND channel = 'bulk') FROM coupons WHERE campaign_id = $1",
            [campaign, "bulk-\(id)-%"]
        ).first!
        #expect(try stored.int(0) == 50)
        #expect(try stored.int(1) == 50)
    }

    @Test func aJobWhoseNodeIsKilledIsResumedExactlyOnceOnACluster() throws {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let database = try PostgresServer.shared().createDatabase(prefix: "bulkc")
        let admin = try Commands.createKey(role: .admin, label: "test", conninfo: database)
        let settings = [
            "REDIS_CLUSTER": cluster.seeds.map(\.description).joined(separator: ","), "POSTGRES": database,
            "BULK_LEASE_SECONDS": "1", "BULK_BATCH_SIZE": "100", "BULK_MAX_LINES_PER_SECOND": "2500",
            "FLUSHER_TAKEOVER_IDLE_MS": "300", "FLUSHER_SWEEP_SECONDS": "0.5",
        ]
        func start(_ name: String) throws -> NodeProcess {
            try NodeProcess.start(settings: settings.merging(["NODE_ID": name]) { $1 }, redis: cluster.servers[0], database: database)
        }
        var first: NodeProcess? = try start("node-a")
        let client = BulkJobClient(port: first!.port, adminKey: admin)
        let campaign = try client.createCampaign(stock: 3_000)
        let id = try client.submit(campaignId: campaign, lines: bulkTestLines(4_000))
        #expect(client.waitHeld(id, by: "node-a", done: 1_000))
        _ = first!.stop(signal: SIGKILL)
        first = nil

        let second = try start("node-b")
        defer { _ = second.stop() }
        let watcher = BulkJobClient(port: second.port, adminKey: admin)
        let status = try watcher.waitFinished(id, seconds: 60)
        expectResumedJob(status, node: "node-b", resumes: 1, lines: 4_000, granted: 3_000)

        let redis = try cluster.client()
        #expect(try redis.command(["HGET", .string(CampaignKeys(campaignId: campaign).meta), "issued"]).string == "3000")
        let rows = try flushedCoupons(campaign: campaign, expected: 3_000, conninfo: database)
        #expect(rows.rows == 3_000)
        #expect(rows.users == 3_000)
    }
}
