import CouponCore
import Foundation
import HTTPServer
import Issuance
import ServiceTestSupport
import Testing
import TestSupport

/// Segments through HTTP: a dormant rule segment is exactly the dormant members; a campaign
/// targeted at it refuses everyone else inside the claim decision; uploads; refresh; a bulk
/// job over a segment.
@Suite(.serialized) struct SegmentTests {
    /// Redeemed coupons written straight to PostgreSQL: `count` users named `prefix<i>`, each
    /// with one coupon of `campaign` redeemed `daysAgo` days ago.
    func insertRedeemed(_ node: TestNode, campaign: Int64, template: Int64, prefix: String, count: Int, daysAgo: Int) throws {
        _ = try node.postgres().execute(
            """
            INSERT INTO coupons (code, campaign_id, template_id, user_id, request_id, state, issued_at, valid_from, valid_until,
                                 stream_id, redeemed_at, order_id)
            SELECT $3 || i, $1, $2, $3 || i, 'r' || i, 'redeemed', now() - interval '200 days', now() - interval '200 days',
                   now() + interval '1 day', '0-1', now() - $5 * interval '1 day', 'o' || i
            FROM generate_series(1, $4) AS i
            """, [campaign, template, prefix, Int64(count), Int64(daysAgo)])
    }

    @Test func aDormantSegmentIsExactlyTheDormantMembersAndATargetedCampaignRefusesOthers() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let template = try node.createTemplate()
        let past = try node.createCampaign(stock: 100, perUserLimit: 1, templateId: template)
        try insertRedeemed(node, campaign: past, template: template, prefix: "old", count: 10_000, daysAgo: 120)
        try insertRedeemed(node, campaign: past, template: template, prefix: "new", count: 10_000, daysAgo: 10)
        let since = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) - 90 * 86_400_000)
        let created = try node.request("POST", "/v1/segments", as: .admin, body: #"{"name":"dormant 90d","rule":{"type":"dormant","since":"\#(since)"}}"#)
        #expect(created.status == 201)
        let segment = try JSONParser.parse(created.body)
        let id = try #require(segment["id"]?.int64Value)
        #expect(segment["size"]?.int64Value == 10_000)
        #expect(segment["kind"]?.stringValue == "rule")
        let check = try node.postgres().execute(
            "SELECT count(*) FILTER (WHERE user_id LIKE 'old%'), count(*) FROM segment_members WHERE segment_id = $1", [id]).first!
        #expect(try check.int(0) == 10_000)
        #expect(try check.int(1) == 10_000)
        let fetched = try JSONParser.parse(try node.request("GET", "/v1/segments/\(id)", as: .admin).body)
        #expect(fetched["size"]?.int64Value == 10_000)

        let targeted = try node.createCampaign(stock: 1_000, perUserLimit: 1, templateId: template)
        let audience = try node.request("POST", "/v1/campaigns/\(targeted)/audience", as: .admin, body: #"{"segment_id":\#(id)}"#)
        #expect(audience.status == 200)
        #expect(try node.claim(campaignId: targeted, userId: "old17", requestId: "a1").status == 201)
        let refused = try node.claim(campaignId: targeted, userId: "new17", requestId: "a2")
        #expect(refused.status == 409)
        #expect(ClaimOutcomeCode.of(refused) == "not_eligible")
        #expect(ClaimOutcomeCode.of(try node.claim(campaignId: targeted, userId: "stranger", requestId: "a3")) == "not_eligible")
        #expect(try node.redisMeta(targeted, "out:not_eligible") == "2")

        // One of the recent members falls dormant: a refresh picks them up and the audience follows.
        _ = try node.postgres().execute("UPDATE coupons SET redeemed_at = now() - interval '100 days' WHERE user_id = 'new5'")
        let refreshed = try JSONParser.parse(try node.request("POST", "/v1/segments/\(id)/refresh", as: .admin).body)
        #expect(refreshed["size"]?.int64Value == 10_001)
        #expect(refreshed["version"]?.int64Value == 2)
        #expect(try node.claim(campaignId: targeted, userId: "new5", requestId: "a4").status == 201)

        // A bulk job over the segment grants to its members (old17 already has one: limit_reached).
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let job = try bulk.send("POST", "/v1/campaigns/\(targeted)/bulk-grants", body: Array(#"{"segment_id":\#(id)}"#.utf8))
        #expect(job.status == 202)
        let status = try bulk.waitFinished(try #require(try JSONParser.parse(job.body)["id"]?.int64Value))
        #expect(status.count("total") == 10_001)
        #expect(status.count("granted") == 998)
        #expect(status.count("refused", "limit_reached") == 2)
        #expect(status.count("refused", "sold_out") == 9_001)

        // Removing the audience opens the campaign again.
        #expect(try node.request("POST", "/v1/campaigns/\(targeted)/audience", as: .admin, body: #"{"segment_id":null}"#).status == 200)
        #expect(ClaimOutcomeCode.of(try node.claim(campaignId: targeted, userId: "stranger", requestId: "a5")) == "sold_out")
    }

    @Test func uploadedSegmentsAndBadInput() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let upload = try bulk.send("POST", "/v1/segments?name=staff", body: Array("user_id\ne1\ne2\ne1\ne3\n".utf8))
        #expect(upload.status == 201)
        let segment = try JSONParser.parse(upload.body)
        #expect(segment["size"]?.int64Value == 3)
        #expect(segment["kind"]?.stringValue == "uploaded")
        let id = try #require(segment["id"]?.int64Value)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        #expect(try node.request("POST", "/v1/campaigns/\(campaign)/audience", as: .admin, body: #"{"segment_id":\#(id)}"#).status == 200)
        #expect(try node.claim(campaignId: campaign, userId: "e2", requestId: "b1").status == 201)
        #expect(ClaimOutcomeCode.of(try node.claim(campaignId: campaign, userId: "e4", requestId: "b2")) == "not_eligible")
        // A node restart after Redis lost the audience set republishes it before serving.
        let redis = try node.redisClient()
        _ = try redis.command(["DEL", .string(CampaignKeys(campaignId: campaign).audience)])
        _ = try redis.command(["HDEL", .string(CampaignKeys(campaignId: campaign).meta), "audv"])
        #expect(node.node.syncCampaignsNow())
        #expect(try node.claim(campaignId: campaign, userId: "e3", requestId: "b3").status == 201)

        #expect(try bulk.send("POST", "/v1/segments?name=x", body: Array("ok\nbad id\n".utf8)).status == 400)
        #expect(try bulk.send("POST", "/v1/segments", body: Array("e1\n".utf8)).status == 400)
        #expect(try node.request("POST", "/v1/segments", as: .admin, body: #"{"name":"r","rule":{"type":"nope"}}"#).status == 400)
        #expect(try node.request("POST", "/v1/segments", as: .admin, body: #"{"name":"r","rule":{"type":"dormant","since":"yesterday"}}"#).status == 400)
        #expect(try node.request("POST", "/v1/campaigns/\(campaign)/audience", as: .admin, body: #"{"segment_id":99999}"#).status == 400)
        #expect(try node.request("GET", "/v1/segments/99999", as: .admin).status == 404)
        #expect(try node.request("POST", "/v1/segments?name=s", as: .issue, body: "e1\n").status == 403)
        let count = try node.postgres().execute("SELECT count(*) FROM segments").first!.int(0)
        #expect(count == 1)
    }

    /// `audience: {segment_id}` as a field of campaign creation: targeted from the first claim.
    @Test func audienceAsACampaignField() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let id = try #require(JSONParser.parse(try bulk.send("POST", "/v1/segments?name=vip", body: Array("v1\nv2\n".utf8)).body)["id"]?.int64Value)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1, extra: #","audience":{"segment_id":\#(id)}"#)
        #expect(ClaimOutcomeCode.of(try node.claim(campaignId: campaign, userId: "x1", requestId: "a1")) == "not_eligible")
        #expect(try node.claim(campaignId: campaign, userId: "v1", requestId: "a2").status == 201)
        #expect(try node.postgres().execute("SELECT segment_id FROM campaign_audiences WHERE campaign_id = $1", [campaign]).first?.int64(0) == id)
        let before = try node.postgres().execute("SELECT count(*) FROM campaigns").first!.int(0)
        for bad in [#","audience":{"segment_id":99999}"#, #","audience":{"segment_id":0}"#, #","audience":7"#, #","audience":{"segment_id":1,"x":2}"#] {
            #expect(throws: (any Error).self, "\(bad)") { try node.createCampaign(stock: 10, perUserLimit: 1, extra: bad) }
        }
        #expect(try node.postgres().execute("SELECT count(*) FROM campaigns").first!.int(0) == before)
    }

    @Test func redeemedAtLeastAndClaimedNotRedeemedRules() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let template = try node.createTemplate()
        let a = try node.createCampaign(stock: 100, perUserLimit: 5, templateId: template)
        try insertRedeemed(node, campaign: a, template: template, prefix: "x", count: 30, daysAgo: 1)
        // x1..x30 redeemed one coupon of A; x1..x5 a second one; x31..x40 hold one of A unredeemed.
        _ = try node.postgres().execute(
            """
            INSERT INTO coupons (code, campaign_id, template_id, user_id, request_id, state, issued_at, valid_from, valid_until, stream_id,
                                 redeemed_at, order_id)
            SELECT 'z' || i, $1, $2, 'x' || i, 'p' || i, 'redeemed', now(), now(), now() + interval '1 day', '0-1', now(), 'o' || i FROM generate_series(1, 5) AS i
            """, [a, template])
        _ = try node.postgres().execute(
            """
            INSERT INTO coupons (code, campaign_id, template_id, user_id, request_id, issued_at, valid_from, valid_until, stream_id)
            SELECT 'y' || i, $1, $2, 'x' || i, 'q' || i, now(), now(), now() + interval '1 day', '0-1' FROM generate_series(31, 40) AS i
            """, [a, template])
        let once = try JSONParser.parse(try node.request(
            "POST", "/v1/segments", as: .admin, body: #"{"name":"loyal","rule":{"type":"redeemed_at_least","count":1}}"#).body)
        #expect(once["size"]?.int64Value == 30)
        let twice = try JSONParser.parse(try node.request(
            "POST", "/v1/segments", as: .admin, body: #"{"name":"loyal2","rule":{"type":"redeemed_at_least","count":2}}"#).body)
        #expect(twice["size"]?.int64Value == 5)
        let never = try JSONParser.parse(try node.request(
            "POST", "/v1/segments", as: .admin, body: #"{"name":"unused","rule":{"type":"claimed_not_redeemed","campaign_id":\#(a)}}"#).body)
        #expect(never["size"]?.int64Value == 10)
    }
}

enum ClaimOutcomeCode {
    static func of(_ response: HTTPClientResponse) -> String? {
        (try? JSONParser.parse(response.body))?["error"]?["code"]?.stringValue
    }
}
