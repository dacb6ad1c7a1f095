import CouponCore
import Testing

import ServiceTestSupport

/// Bulk jobs, audiences, points exchanges and period caps know shard 0's keys only: a campaign
/// with `shards > 1` refuses them (400 at creation, 409 `sharded_campaign` on their routes) and
/// nothing is stored.
@Suite(.serialized) struct ShardedRefusalTests {
    @Test func shardOnlyFeaturesAreRefusedOnShardedCampaigns() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let postgres = try node.postgres()
        func campaigns() throws -> Int64 { try postgres.execute("SELECT count(*) FROM campaigns").first!.int64(0) }

        let before = try campaigns()
        for extra in [#","shards":2,"user_daily_limit":1"#, #","shards":2,"points_cost":10"#, #","shards":3,"audience":{"segment_id":1}"#] {
            #expect(throws: (any Error).self, "\(extra)") { try node.createCampaign(stock: 10, perUserLimit: 1, extra: extra) }
        }
        #expect(try campaigns() == before)

        let sharded = try node.createCampaign(stock: 10, perUserLimit: 1, extra: #","shards":2"#)
        let routes: [(String, String, String)] = [
            ("POST", "/v1/campaigns/\(sharded)/bulk-grants", #"{"segment_id":1}"#),
            ("POST", "/v1/campaigns/\(sharded)/audience", #"{"segment_id":1}"#),
            ("PUT", "/v1/campaigns/\(sharded)/points", #"{"points_cost":10}"#),
        ]
        for (method, path, body) in routes {
            let response = try node.request(method, path, as: .admin, body: body)
            #expect(response.status == 409, "\(path)")
            #expect(TestNode.code(of: response) == "sharded_campaign", "\(path)")
        }
        #expect(try postgres.execute("SELECT count(*) FROM bulk_jobs").first!.int64(0) == 0)
        #expect(try postgres.execute("SELECT count(*) FROM campaign_audiences").first!.int64(0) == 0)
        #expect(try postgres.execute("SELECT count(*) FROM campaign_points").first!.int64(0) == 0)

        // An unsharded campaign still takes them (the route answers past the shard check).
        let plain = try node.createCampaign(stock: 10, perUserLimit: 1)
        #expect(try node.request("PUT", "/v1/campaigns/\(plain)/points", as: .admin, body: #"{"points_cost":10}"#).status == 200)
    }
}
