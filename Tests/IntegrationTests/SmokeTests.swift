import CouponCore
import Testing

import ServiceTestSupport

@Suite struct SmokeTests {
    @Test func claimIsGrantedAndFlushed() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
        let response = try node.claim(campaignId: campaign, userId: "alice", requestId: "r1")
        #expect(response.status == 201)
        let code = try JSONParser.parse(response.body)["code"]?.stringValue
        #expect(code?.count == 16)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))
        let rows = try node.postgres().execute("SELECT code, user_id FROM coupons WHERE campaign_id = $1", [campaign])
        #expect(try rows.first?.string(0) == code)
        #expect(try rows.first?.string(1) == "alice")
    }
}
