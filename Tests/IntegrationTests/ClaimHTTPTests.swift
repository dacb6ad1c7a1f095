import CouponCore
import CouponService
import Foundation
import HTTPServer
import GrantFlusher
import Testing

import ServiceTestSupport

extension ClaimPathTests {
    /// The claim route as the node's real router and HTTP server serve it (guarantee 6).
    @Suite struct ClaimHTTP {
        static func raw(_ node: TestNode, _ text: String) throws -> HTTPClientResponse {
            try raw(node, Array(text.utf8))
        }

        static func raw(_ node: TestNode, _ bytes: [UInt8]) throws -> HTTPClientResponse {
            let client = node.client(timeoutSeconds: 5)
            defer { client.close() }
            try client.sendRaw(bytes)
            return try client.readResponse()
        }

        static func claimBody(_ user: String, _ request: String) -> String {
            #"{"user_id":"\#(user)","request_id":"\#(request)"}"#
        }

        static func claimRequest(_ node: TestNode, campaign: Int64, body: String, extraHeaders: String = "", key: String? = nil) -> String {
            "POST /v1/campaigns/\(campaign)/claims HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key ?? node.keys[.issue]!)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)"
        }

        /// What must not move when a request is refused: stock, grants, users.
        static func snapshot(_ node: TestNode, _ campaign: Int64) throws -> [String] {
            [
                "stock=\(try node.redisStock(campaign) ?? -1)", "issued=\(try node.redisMeta(campaign, "issued") ?? "")",
                "stream=\(try node.streamLength(campaign))", "users=\(try node.redisUserCounts(campaign).count)",
            ]
        }

        /// Three claims in one write are answered, and take effect, in order: the second is
        /// refused by the limit the first used up. Each round uses a new key, so the node has
        /// to look the key up first (that path once let the requests overtake each other).
        @Test func pipelinedClaimsAreAnsweredInOrder() throws {
            let node = try TestNode.start()
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
            var keys = try (0..<6).map { _ in try Commands.createKey(role: .issue, label: "pipelined", conninfo: node.conninfo) }
            keys.append(keys[0])  // and once more with a key the node already knows
            for (round, key) in keys.enumerated() {
                let client = node.client()
                defer { client.close() }
                let requests = [("ann\(round)", "p\(round)-1"), ("ann\(round)", "p\(round)-2"), ("ben\(round)", "p\(round)-3")].map {
                    Self.claimRequest(node, campaign: campaign, body: Self.claimBody($0.0, $0.1), key: key)
                }
                try client.sendRaw(Array(requests.joined().utf8))
                let responses = try (0..<3).map { _ in try client.readResponse() }
                #expect(responses.map(\.status) == [201, 409, 201], "round \(round)")
                #expect(responses.map(TestNode.code(of:)).map { $0?.count == 16 ? "coupon" : $0 } == ["coupon", "limit_reached", "coupon"])
                let bodies = try responses.map { try JSONParser.parse($0.body) }
                #expect(bodies.map { $0["request_id"]?.stringValue } == ["p\(round)-1", nil, "p\(round)-3"], "round \(round)")
                #expect(bodies.map { $0["user_id"]?.stringValue } == ["ann\(round)", nil, "ben\(round)"], "round \(round)")
            }
            #expect(try node.redisStock(campaign) == 100 - 2 * Int64(keys.count))
        }

        @Test func malformedAndOversizedRequestsAreRefused() throws {
            let node = try TestNode.start()
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
            let before = try Self.snapshot(node, campaign)
            #expect(before == ["stock=10", "issued=0", "stream=0", "users=0"])

            let longLine = try Self.raw(node, "GET /" + String(repeating: "a", count: 9_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(longLine.status == 414)
            let bigHeaders = (0..<40).map { "X-Pad-\($0): " + String(repeating: "b", count: 1_000) + "\r\n" }.joined()
            let largeHead = try Self.raw(node, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + bigHeaders + "\r\n")
            #expect(largeHead.status == 431)
            let manyHeaders = (0..<101).map { "X-F\($0): v\r\n" }.joined()
            let manyFields = try Self.raw(node, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + manyHeaders + "\r\n")
            #expect(manyFields.status == 431)
            let hundred = (0..<98).map { "X-F\($0): v\r\n" }.joined()  // + Host + Connection = 100: allowed
            let hundredFields = try Self.raw(node, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + hundred + "Connection: close\r\n\r\n")
            #expect(hundredFields.status == 200)

            let bigBody = Self.claimBody("big", "big-1").dropLast() + #","pad":""# + String(repeating: "c", count: 4_200) + #""}"#
            let tooLarge = try Self.raw(node, Self.claimRequest(node, campaign: campaign, body: bigBody))
            #expect(tooLarge.status == 413)
            let fits = Self.claimBody("fits", "fits-1").dropLast() + #","pad":""# + String(repeating: "c", count: 3_900) + #""}"#
            #expect(fits.utf8.count <= 4_096)
            let both = try Self.raw(
                node, Self.claimRequest(node, campaign: campaign, body: Self.claimBody("te", "te-1"), extraHeaders: "Transfer-Encoding: chunked\r\n"))
            #expect(both.status == 400)
            let noHost = try Self.raw(node, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            #expect(noHost.status == 400)
            let garbage = try Self.raw(node, "THIS IS NOT HTTP\r\n\r\n")
            #expect(garbage.status == 400)
            let noVersion = try Self.raw(node, "POST /v1/campaigns/\(campaign)/claims\r\nHost: x\r\n\r\n")
            #expect(noVersion.status == 400)

            // A claim whose body is cut short, then the connection closed: never handled.
            let full = Self.claimRequest(node, campaign: campaign, body: Self.claimBody("cut", "cut-1"))
            let cut = node.client()
            try cut.sendRaw(Array(full.utf8.dropLast(12)))
            Thread.sleep(forTimeInterval: 0.1)
            cut.close()
            Thread.sleep(forTimeInterval: 0.3)
            #expect(try Self.snapshot(node, campaign) == before)

            // The node is alive and the same claim sent whole is granted: the refusals were not vacuous.
            let whole = try Self.raw(node, full)
            #expect(whole.status == 201)
            let sized = try Self.raw(node, Self.claimRequest(node, campaign: campaign, body: String(fits)))
            #expect(sized.status == 201)
            #expect(try node.redisStock(campaign) == 8)
            #expect(try node.redisMeta(campaign, "issued") == "2")
            #expect(try node.redisUserCounts(campaign) == ["cut": 1, "fits": 1])
        }

        @Test func badInputAndRefusalsGetClearCodes() throws {
            let node = try TestNode.start()
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
            let path = "/v1/campaigns/\(campaign)/claims"
            let body = Self.claimBody("carol", "c-1")
            let before = try Self.snapshot(node, campaign)

            let noKey = try node.request("POST", path, as: nil, body: body)
            #expect(noKey.status == 401)
            #expect(TestNode.code(of: noKey) == "unauthorized")
            let client = node.client()
            defer { client.close() }
            let unknownKey = try client.send(
                method: "POST", path: path, headers: [("Authorization", "Bearer not-a-key")], body: Array(body.utf8))
            #expect(unknownKey.status == 401)
            #expect(TestNode.code(of: unknownKey) == "unauthorized")
            for role in [Role.admin, .checkout, .finance] {
                let wrongRole = try node.request("POST", path, as: role, body: body)
                #expect(wrongRole.status == 403)
                #expect(TestNode.code(of: wrongRole) == "forbidden")
            }
            let unknown = try node.claim(campaignId: 999_999, userId: "carol", requestId: "c-1")
            #expect(unknown.status == 404)
            #expect(TestNode.code(of: unknown) == "not_found")

            let badBodies = [
                "{", "[]", "", #"{"user_id":"carol"}"#, #"{"request_id":"c-1"}"#, #"{"user_id":"bad user","request_id":"c-1"}"#,
                #"{"user_id":"","request_id":"c-1"}"#, #"{"user_id":42,"request_id":"c-1"}"#,
                #"{"user_id":"carol","request_id":"\#(String(repeating: "r", count: 129))"}"#,
                #"{"user_id":"carol","request_id":"c-1","tags":"vip"}"#,
            ]
            for bad in badBodies {
                let response = try node.request("POST", path, as: .issue, body: bad)
                #expect(response.status == 400, "\(bad)")
                #expect(TestNode.code(of: response) == "invalid_request", "\(bad)")
            }
            #expect(try Self.snapshot(node, campaign) == before)
            // The same request with good input is granted, and its id is still fresh.
            #expect(try node.request("POST", path, as: .issue, body: body).status == 201)
            #expect(try node.redisStock(campaign) == 9)
        }

        @Test func campaignStateAndWindowRefusals() throws {
            let node = try TestNode.start()
            defer { node.stop() }
            let template = try node.createTemplate()
            let now = Int64(Date().timeIntervalSince1970 * 1000)

            let paused = try node.createCampaign(stock: 5, perUserLimit: 1, templateId: template)
            #expect(try node.request("POST", "/v1/campaigns/\(paused)/pause", as: .admin).status == 200)
            let pausedClaim = try node.claim(campaignId: paused, userId: "dan", requestId: "d-1")
            #expect(pausedClaim.status == 409)
            #expect(TestNode.code(of: pausedClaim) == "paused")
            #expect(try node.redisStock(paused) == 5)
            #expect(try node.request("POST", "/v1/campaigns/\(paused)/resume", as: .admin).status == 200)
            #expect(try node.claim(campaignId: paused, userId: "dan", requestId: "d-2").status == 201)

            let future = try node.createCampaign(
                stock: 5, perUserLimit: 1, templateId: template, claimStart: RFC3339.format(epochMs: now + 3_600_000),
                claimEnd: RFC3339.format(epochMs: now + 7_200_000))
            let early = try node.claim(campaignId: future, userId: "dan", requestId: "d-3")
            #expect(early.status == 409)
            #expect(TestNode.code(of: early) == "not_started")
            #expect(try node.redisStock(future) == 5)

            let past = try node.createCampaign(
                stock: 5, perUserLimit: 1, templateId: template, claimStart: RFC3339.format(epochMs: now - 7_200_000),
                claimEnd: RFC3339.format(epochMs: now - 3_600_000))
            let late = try node.claim(campaignId: past, userId: "dan", requestId: "d-4")
            #expect(late.status == 409)
            #expect(TestNode.code(of: late) == "ended")
            #expect(try node.redisStock(past) == 5)
            #expect(try node.streamLength(future) == 0)
            #expect(try node.streamLength(past) == 0)
        }

        /// The wallet shows a grant before it is flushed (`flushed: false`) and exactly once after.
        @Test func walletListsUnflushedThenFlushedGrant() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
            let claim = try node.claim(campaignId: campaign, userId: "erin", requestId: "e-1")
            #expect(claim.status == 201)
            let code = try #require(TestNode.code(of: claim))

            func wallet() throws -> [JSONValue] {
                let response = try node.request("GET", "/v1/users/erin/coupons", as: .checkout)
                #expect(response.status == 200)
                return try JSONParser.parse(response.body)["coupons"]?.arrayValue ?? []
            }
            #expect(try node.request("GET", "/v1/users/erin/coupons", as: .issue).status == 403)
            let before = try wallet()
            #expect(before.map { $0["code"]?.stringValue } == [code])
            #expect(before.map { $0["flushed"]?.boolValue } == [false])
            #expect(before.first?["campaign_id"]?.int64Value == campaign)

            let flusher = Flusher(consumer: "wallet-test", redis: node.redis.endpoint, postgresConninfo: node.conninfo, options: TestNode.fastFlusher)
            let deadline = Date().addingTimeInterval(10)
            while try node.storedCoupons(campaign).count < 1 && Date() < deadline { try flusher.runOnce() }
            #expect(try node.storedCoupons(campaign).map(\.code) == [code])
            let after = try wallet()
            #expect(after.map { $0["code"]?.stringValue } == [code])
            #expect(after.map { $0["flushed"]?.boolValue } == [true])
            #expect(after.first?["request_id"]?.stringValue == "e-1")
            #expect(try wallet().isEmpty == false)
            #expect(try node.request("GET", "/v1/users/nobody/coupons", as: .checkout).bodyString.contains(code) == false)
        }
    }
}
