import CouponCore
import Foundation
import HTTPServer
import Issuance
import RedisClient
import Testing

import ServiceTestSupport

/// Issue 8, Redis resource faults on the claim path: a full Redis, a flushed script cache and
/// a server held by a long script each answer 503 (or nothing visible), never a partial claim
/// or a second grant.
@Suite(.serialized) struct RedisFaultTests {
    /// The campaign's claim state: stock, users hash, stream length, issued, and the request key.
    static func claimState(_ node: TestNode, _ campaign: Int64, requestId: String) throws -> [String] {
        let keys = CampaignKeys(campaignId: campaign)
        let redis = try node.redisClient()
        return [
            "stock=\(try node.redisStock(campaign).map(String.init) ?? "nil")",
            "users=\(try node.redisUserCounts(campaign).sorted { $0.key < $1.key })",
            "stream=\(try node.streamLength(campaign))",
            "issued=\(try node.redisMeta(campaign, "issued") ?? "nil")",
            "request=\(try Self.requestRecorded(redis, keys, requestId))",
        ]
    }

    /// 1 when a request bucket of the campaign holds `requestId`, else 0.
    static func requestRecorded(_ redis: BlockingRedisConnection, _ keys: CampaignKeys, _ requestId: String) throws -> Int {
        let buckets = try redis.command(["KEYS", .string(keys.requestBuckets)]).array?.compactMap(\.string) ?? []
        return try buckets.contains { try redis.command(["HEXISTS", .string($0), .string(requestId)]).int == 1 } ? 1 : 0
    }

    /// maxmemory reached with noeviction: claims answer 503 and change nothing; once memory
    /// is available the same request id is granted once.
    @Test func fullRedisRefusesClaimsWithoutPartialState() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        #expect(try node.claim(campaignId: campaign, userId: "before", requestId: "before-1").status == 201)
        let redis = try node.redisClient()
        try redis.command(["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        try redis.command(["CONFIG", "SET", "maxmemory", "1"])
        defer { _ = try? redis.command(["CONFIG", "SET", "maxmemory", "0"]) }

        let before = try Self.claimState(node, campaign, requestId: "full-1")
        var statuses: [Int] = []
        var codes: [String?] = []
        for attempt in 0..<3 {
            let response = try node.claim(campaignId: campaign, userId: "full", requestId: "full-1")
            statuses.append(response.status)
            codes.append(TestNode.code(of: response))
            #expect(attempt > 0 || response.headers["retry-after"] != nil)
        }
        #expect(statuses == [503, 503, 503])
        #expect(codes == ["unavailable", "unavailable", "unavailable"])
        #expect(try Self.claimState(node, campaign, requestId: "full-1") == before)
        // A replay of a stored grant needs no write: it still answers.
        #expect(try node.claim(campaignId: campaign, userId: "before", requestId: "before-1").status == 201)

        try redis.command(["CONFIG", "SET", "maxmemory", "0"])
        let granted = try node.claim(campaignId: campaign, userId: "full", requestId: "full-1")
        let again = try node.claim(campaignId: campaign, userId: "full", requestId: "full-1")
        #expect(granted.status == 201)
        #expect(TestNode.code(of: again) == TestNode.code(of: granted))
        #expect(try node.redisUserCounts(campaign)["full"] == 1)
        #expect(try node.redisMeta(campaign, "issued") == "2")
    }

    /// SCRIPT FLUSH twice during a 2 s claim load: every claim is granted (NOSCRIPT → load, retry).
    @Test func scriptFlushMidLoadCausesNo5xx() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 1_000_000, perUserLimit: 1)
        let statuses = Locked<[Int: Int]>([:])
        let started = Date()
        let flusher = Thread {
            guard let redis = try? node.redisClient() else { return }
            for at in [0.5, 1.2] {
                Thread.sleep(forTimeInterval: max(0, at - Date().timeIntervalSince(started)))
                _ = try? redis.command(["SCRIPT", "FLUSH"])
            }
        }
        flusher.start()
        #expect(ConcurrentRun.run(threads: 4, timeoutSeconds: 30) { thread in
            let client = node.client()
            defer { client.close() }
            var index = 0
            while Date().timeIntervalSince(started) < 2 {
                let status = (try? node.claim(campaignId: campaign, userId: "s\(thread)-\(index)", requestId: "s\(thread)-\(index)", on: client).status) ?? -1
                statuses.withLock { $0[status, default: 0] += 1 }
                index += 1
            }
        })
        let counts = statuses.current
        print("FIGURE: claims during two SCRIPT FLUSH: \(counts.sorted { $0.key < $1.key })")
        #expect(counts.keys.sorted() == [201])
        #expect((counts[201] ?? 0) > 100)
        #expect(try node.redisMeta(campaign, "issued") == String(counts[201] ?? 0))
    }

    /// Another client's script holds Redis past `busy-reply-threshold`: claims answer 503
    /// (BUSY); after SCRIPT KILL, retries with the same request ids give exactly one grant each.
    @Test func busyScriptAnswers503AndRetriesGrantOnce() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        let admin = try node.redisClient()
        try admin.command(["CONFIG", "SET", "busy-reply-threshold", "100"])
        let stuck = Locked<String?>(nil)
        let holder = Thread {
            let redis = try? BlockingRedisConnection(endpoint: node.redis.endpoint, timeoutSeconds: 30)
            let result = Result { () throws(RedisError) -> RESPValue in
                guard let redis else { throw RedisError.notConnected }
                return try redis.command(["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
            }
            stuck.withLock { $0 = "\(result)" }
        }
        holder.start()
        Thread.sleep(forTimeInterval: 0.4)

        var first: [Int] = []
        for index in 0..<5 {
            let response = try node.claim(campaignId: campaign, userId: "busy\(index)", requestId: "busy-\(index)")
            first.append(response.status)
            #expect(TestNode.code(of: response) == "unavailable")
        }
        #expect(first == [503, 503, 503, 503, 503])
        try admin.command(["SCRIPT", "KILL"])
        #expect(TestEnvironmentWait.until(seconds: 10) { stuck.current != nil })

        var codes: [String: String] = [:]
        for _ in 0..<2 {
            for index in 0..<5 {
                let response = try node.claim(campaignId: campaign, userId: "busy\(index)", requestId: "busy-\(index)")
                #expect(response.status == 201)
                let code = try #require(TestNode.code(of: response))
                #expect(codes[String(index), default: code] == code)
                codes[String(index)] = code
            }
        }
        #expect(try node.redisMeta(campaign, "issued") == "5")
        #expect(try node.streamLength(campaign) == 5)
        #expect(try node.redisUserCounts(campaign).values.sorted() == [1, 1, 1, 1, 1])
    }
}
