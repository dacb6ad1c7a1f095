import CouponCore
import Foundation
import ServiceTestSupport
import Testing

/// Publishing a campaign to Redis is idempotent and convergent: a node start re-publishes
/// without resetting stock, and added stock moves the remaining units by the difference.
@Suite(.serialized) struct CampaignPublishTests {
    @Test func restartRepublishesWithoutResettingStockAndAddStockMovesRemaining() throws {
        let first = try TestNode.start()
        let campaign = try first.createCampaign(stock: 10, perUserLimit: 5)
        for index in 0..<3 {
            #expect(try first.claim(campaignId: campaign, userId: "p", requestId: "p\(index)").status == 201)
        }
        #expect(try first.redisStock(campaign) == 7)
        first.stop()

        // A new node on the same Redis and PostgreSQL publishes every active campaign at start.
        let second = try TestNode.start(redis: first.redis, conninfo: first.conninfo)
        defer { second.stop() }
        #expect(try second.redisStock(campaign) == 7)
        #expect(try second.redisMeta(campaign, "stock_total") == "10")
        #expect(try second.redisMeta(campaign, "issued") == "3")

        let added = try second.request("POST", "/v1/campaigns/\(campaign)/stock", as: .admin, body: #"{"add":5}"#)
        #expect(added.status == 200)
        let body = try JSONParser.parse(added.body)
        #expect(body["stock"]?.int64Value == 15)
        #expect(body["remaining"]?.int64Value == 12)
        #expect(body["issued"]?.int64Value == 3)

        // Pausing and resuming re-publishes too; neither touches the counters.
        #expect(try second.request("POST", "/v1/campaigns/\(campaign)/pause", as: .admin).status == 200)
        #expect(try second.claim(campaignId: campaign, userId: "q", requestId: "q1").status == 409)
        #expect(try second.request("POST", "/v1/campaigns/\(campaign)/resume", as: .admin).status == 200)
        #expect(try second.redisStock(campaign) == 12)
        #expect(try second.claim(campaignId: campaign, userId: "q", requestId: "q2").status == 201)
        #expect(try second.redisStock(campaign) == 11)
        #expect(try second.redisMeta(campaign, "stock_total") == "15")
    }
}
