import CouponCore
import CouponService
import Foundation
import HTTPServer
import RiskControl
import TestSupport
import GrantFlusher
import Testing

import ServiceTestSupport

/// The console's static files and the two routes it adds (issue 14), over real HTTP.
@Suite struct ConsoleServingTests {
    func get(_ node: TestNode, _ path: String, headers: [(String, String)] = []) throws -> HTTPClientResponse {
        let client = node.client()
        defer { client.close() }
        return try client.send(method: "GET", path: path, headers: headers, body: nil)
    }

    @Test func filesHaveTypesValidatorsAndSecurityHeaders() throws {
        let node = try TestNode.start(loops: 1, flusher: false)
        defer { node.stop() }
        let index = try get(node, "/console/")
        #expect(index.status == 200)
        #expect(index.headers["content-type"] == "text/html; charset=utf-8")
        #expect(index.headers["cache-control"] == "no-cache")
        #expect(index.headers["x-content-type-options"] == "nosniff")
        #expect(index.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
        #expect(index.headers["content-security-policy"]?.contains("script-src 'self';") == true)
        #expect(index.bodyString.contains("<script src=\"app.js\""))
        let etag = try #require(index.headers["etag"])
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count == 26)

        let revalidated = try get(node, "/console/", headers: [("If-None-Match", "\"other\", \(etag)")])
        #expect(revalidated.status == 304)
        #expect(revalidated.body.isEmpty)
        #expect(revalidated.headers["etag"] == etag)
        #expect(try get(node, "/console/", headers: [("If-None-Match", "W/\(etag)")]).status == 304)
        #expect(try get(node, "/console/", headers: [("If-None-Match", "\"stale\"")]).status == 200)

        #expect(try get(node, "/console/app.js").headers["content-type"] == "text/javascript; charset=utf-8")
        #expect(try get(node, "/console/console.css").headers["content-type"] == "text/css; charset=utf-8")
        let redirect = try get(node, "/console")
        #expect(redirect.status == 301)
        #expect(redirect.headers["location"] == "/console/")
    }

    @Test func onlyShippedFilesAreServed() throws {
        let node = try TestNode.start(loops: 1, flusher: false)
        defer { node.stop() }
        let attempts = [
            "/console/../Package.swift", "/console/%2e%2e/Package.swift", "/console/%2E%2E%2FPackage.swift",
            "/console/..%2f..%2f..%2fetc%2fpasswd", "/console/%2fetc%2fpasswd", "/console//etc/passwd",
            "/console/assets/index.html", "/console/.", "/console/..", "/console/index.html%00.js",
            "/console/ConsoleHandler.swift", "/console/app.js/", "/console/nonexistent.js",
        ]
        for path in attempts {
            let response = try get(node, path)
            #expect(response.status == 404, "\(path) answered \(response.status)")
            #expect(!response.bodyString.contains("root:"), "\(path)")
        }
        #expect(try get(node, "/console/index.html").status == 200)
    }

    @Test func campaignListIsPagedFilteredAndValidated() throws {
        let node = try TestNode.start(loops: 1, flusher: true)
        defer { node.stop() }
        let template = try node.createTemplate()
        var ids: [Int64] = []
        for _ in 0..<3 { ids.append(try node.createCampaign(stock: 10, perUserLimit: 1, templateId: template)) }
        #expect(try node.claim(campaignId: ids[2], userId: "u1", requestId: "r1").status == 201)
        try node.request("POST", "/v1/campaigns/\(ids[0])/pause", as: .admin)

        let first = try node.request("GET", "/v1/campaigns?limit=2", as: .finance)
        #expect(first.status == 200)
        let page = try JSONParser.parse(first.body)
        let items = page["campaigns"]?.arrayValue ?? []
        #expect(items.compactMap { $0["id"]?.int64Value } == [ids[2], ids[1]])
        #expect(items.first?["kind"]?.stringValue == "amount_off")
        #expect(items.first?["currency"]?.stringValue == "CNY")
        #expect(items.first?["remaining"]?.int64Value == 9)
        #expect(items.first?["issued"]?.int64Value == 1)
        #expect(page["next_cursor"]?.stringValue == String(ids[1]))
        let second = try JSONParser.parse(try node.request("GET", "/v1/campaigns?limit=2&cursor=\(ids[1])", as: .admin).body)
        #expect(second["campaigns"]?.arrayValue?.compactMap { $0["id"]?.int64Value } == [ids[0]])
        #expect(second["next_cursor"] == .null)
        let paused = try JSONParser.parse(try node.request("GET", "/v1/campaigns?state=paused", as: .admin).body)
        #expect(paused["campaigns"]?.arrayValue?.compactMap { $0["id"]?.int64Value } == [ids[0]])
        let searched = try JSONParser.parse(try node.request("GET", "/v1/campaigns?q=TEST%20camp", as: .admin).body)
        #expect(searched["campaigns"]?.arrayValue?.count == 3)

        for query in ["limit=0", "limit=201", "limit=abc", "limit=05", "cursor=-1", "cursor=x", "state=gone", "kind=bogus", "sort=id"] {
            let response = try node.request("GET", "/v1/campaigns?\(query)", as: .admin)
            #expect(response.status == 400, "\(query)")
            #expect(response.bodyString.contains("invalid_request"), "\(query)")
        }
        #expect(try node.request("GET", "/v1/campaigns", as: .issue).status == 403)
        #expect(try node.request("GET", "/v1/campaigns", as: nil).status == 401)
    }

    @Test func seriesCountsClaimsByOutcomeAndStock() throws {
        let node = try TestNode.start(loops: 2, flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 3, perUserLimit: 1)
        for user in 0..<5 { _ = try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)") }
        _ = try node.claim(campaignId: campaign, userId: "u0", requestId: "again")
        var window: JSONValue = .null
        let counted = TestEnvironment.waitUntil(seconds: 5, interval: 0.05) {
            guard let response = try? node.request("GET", "/v1/campaigns/\(campaign)/series?seconds=60", as: .finance),
                let value = try? JSONParser.parse(response.body)
            else { return false }
            window = value
            let sum = { (name: String) in value["claims"]?[name]?.arrayValue?.compactMap(\.int64Value).reduce(0, +) ?? -1 }
            return sum("granted") == 3 && sum("sold_out") + sum("limit_reached") == 3
        }
        #expect(counted, "series: \(window)")
        #expect(window["seconds"]?.int64Value == 60)
        #expect(window["remaining"]?.arrayValue?.count == 60)
        #expect(window["remaining"]?.arrayValue?.last?.int64Value == 0)
        #expect(window["claims"]?["paused"]?.arrayValue?.count == 60)

        for query in ["seconds=0", "seconds=601", "seconds=x", "window=5"] {
            #expect(try node.request("GET", "/v1/campaigns/\(campaign)/series?\(query)", as: .admin).status == 400, "\(query)")
        }
        #expect(try node.request("GET", "/v1/campaigns/999999/series", as: .admin).status == 404)
        #expect(try node.claim(campaignId: 999_999, userId: "u", requestId: "r").status == 404)
        Thread.sleep(forTimeInterval: 0.3)
        let minute = Int64(Date().timeIntervalSince1970) / 60
        let made = try node.redisClient().command(["EXISTS", .string(ClaimSeries.key(campaignId: 999_999, minute: minute))]).int
        #expect(made == 0, "no series key for a campaign Redis does not know")
        #expect(try node.request("GET", "/v1/campaigns/\(campaign)/series", as: .checkout).status == 403)
    }

    @Test func rateLimitedClaimsAreInTheSeriesButMadeUpCampaignsAreNot() throws {
        let node = try TestNode.start(loops: 1, flusher: false) { $0.claimUserRate = RateLimit(perSecond: 0.01, burst: 1) }
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let statuses = try (0..<3).map { try node.claim(campaignId: campaign, userId: "eager", requestId: "e\($0)").status }
        #expect(statuses == [201, 429, 429])
        for attempt in 0..<3 { #expect(try node.claim(campaignId: 888_888, userId: "guess", requestId: "g\(attempt)").status != 201) }
        var limited: Int64 = -1
        #expect(TestEnvironment.waitUntil(seconds: 5, interval: 0.05) {
            guard let response = try? node.request("GET", "/v1/campaigns/\(campaign)/series?seconds=60", as: .admin),
                let window = try? JSONParser.parse(response.body)
            else { return false }
            limited = window["claims"]?["rate_limited"]?.arrayValue?.compactMap { $0.int64Value }.reduce(0, +) ?? -1
            return limited == 2
        }, "rate_limited: \(limited)")
        let minute = Int64(Date().timeIntervalSince1970) / 60
        let made = try node.redisClient().command([
            "EXISTS", .string(ClaimSeries.key(campaignId: 888_888, minute: minute)), .string(ClaimSeries.key(campaignId: 888_888, minute: minute - 1)),
        ]).int
        #expect(made == 0, "no series keys for a campaign Redis does not hold")
    }

    @Test func everyNodeAnswersTheSameSeries() throws {
        let nodeA = try TestNode.start(loops: 1, flusher: false)
        defer { nodeA.stop() }
        let nodeB = try TestNode.start(redis: nodeA.redis, loops: 1, flusher: false, conninfo: nodeA.conninfo)
        defer { nodeB.stop() }
        let campaign = try nodeA.createCampaign(stock: 4, perUserLimit: 1)
        for user in 0..<3 { #expect(try nodeA.claim(campaignId: campaign, userId: "a\(user)", requestId: "ra\(user)").status == 201) }
        #expect(try nodeB.claim(campaignId: campaign, userId: "b0", requestId: "rb0").status == 201)
        #expect(try nodeB.claim(campaignId: campaign, userId: "b1", requestId: "rb1").status == 409)
        func totals(_ node: TestNode) -> [String: Int64] {
            guard let response = try? node.request("GET", "/v1/campaigns/\(campaign)/series?seconds=120", as: .admin),
                let window = try? JSONParser.parse(response.body), case .object(let claims)? = window["claims"]
            else { return [:] }
            var sums: [String: Int64] = [:]
            for (outcome, counts) in claims.members { sums[outcome] = counts.arrayValue?.compactMap { $0.int64Value }.reduce(0, +) }
            sums["remaining"] = window["remaining"]?.arrayValue?.last?.int64Value
            return sums.filter { $0.value != 0 || $0.key == "remaining" }
        }
        let expected: [String: Int64] = ["granted": 4, "sold_out": 1, "remaining": 0]
        #expect(TestEnvironment.waitUntil(seconds: 5, interval: 0.05) { totals(nodeA) == expected }, "\(totals(nodeA))")
        #expect(totals(nodeB) == expected)
    }

    @Test func assetTableHoldsOnlyKnownTypesFromOneFolder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["a.js", "b.exe", ".hidden.css", "noextension", "sub/c.js"] {
            try Data("x".utf8).write(to: directory.appendingPathComponent(name))
        }
        let assets = ConsoleAssets.load(directory: directory)
        #expect(assets.files.keys.sorted() == ["a.js"])
        #expect(assets.files["a.js"]?.etag == "\"2d711642b726b04401627ca9\"")  // SHA-256("x"), first 12 bytes
        #expect(ConsoleAssets.directory(environment: ["COUPOND_CONSOLE_DIR": directory.path])?.path == directory.path)
        #expect(ConsoleAssets.directory(environment: [:])?.lastPathComponent == "assets")
    }

    @Test func seriesWindowCarriesStockForward() {
        let window = ClaimSeries.window(
            from: 100, seconds: 4, fields: ["100:granted": 2, "101:remaining": 7, "101:sold_out": 1, "99:granted": 5, "103:granted": 1],
            currentRemaining: 6)
        #expect(window.counts["granted"] == [2, 0, 0, 1])
        #expect(window.counts["sold_out"] == [0, 1, 0, 0])
        #expect(window.remaining == [7, 7, 7, 6])
        let backfilled = ClaimSeries.window(
            from: 100, seconds: 3, fields: ["101:granted": 5, "101:remaining": 45], currentRemaining: 45)
        #expect(backfilled.remaining == [50, 45, 45])
        // Commit lag is its own series (not an outcome), the largest per second.
        let lagged = ClaimSeries.window(from: 100, seconds: 3, fields: ["100:lag_ms": 40, "102:lag_ms": 7], currentRemaining: nil)
        #expect(lagged.lagMs == [40, nil, 7])
        #expect(lagged.counts["lag_ms"] == nil)
    }

    /// Grant → PostgreSQL lag comes from the flusher that committed, through Redis: every node
    /// answers it, including one that flushed nothing.
    @Test func commitLagIsSharedThroughRedis() throws {
        let flushing = try TestNode.start(loops: 1)
        defer { flushing.stop() }
        let reader = try TestNode.start(redis: flushing.redis, loops: 1, flusher: false, conninfo: flushing.conninfo)
        defer { reader.stop() }
        let campaign = try flushing.createCampaign(stock: 10, perUserLimit: 5)
        for index in 0..<3 { _ = try flushing.claim(campaignId: campaign, userId: "lag", requestId: "lag-\(index)") }
        #expect(try flushing.waitForFlush(campaignId: campaign, expected: 3))
        var lags: [Int64] = []
        let seen = TestEnvironment.waitUntil(seconds: 5, interval: 0.05) {
            guard let response = try? reader.request("GET", "/v1/campaigns/\(campaign)/series?seconds=60", as: .admin),
                let value = try? JSONParser.parse(response.body)
            else { return false }
            lags = value["lag_ms"]?.arrayValue?.compactMap(\.int64Value) ?? []
            return !lags.isEmpty
        }
        #expect(seen)
        #expect(lags.allSatisfy { $0 >= 0 && $0 < 60_000 }, "\(lags)")
        #expect(CommitLag.largest([], nowMs: 0).isEmpty)
    }
}
