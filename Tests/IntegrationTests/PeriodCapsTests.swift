import CouponCore
import Foundation
import HTTPServer
import Issuance
import RedisClient
import Testing

import ServiceTestSupport

/// Period caps (issue 12): a per-user daily cap and a campaign's daily stock hold exactly under
/// 64 concurrent connections, and the claim script changes day by Redis `TIME` at the published
/// boundary.
@Suite(.serialized) struct PeriodCapsTests {
    static func run(_ node: TestNode, campaign: Int64, claims: [(user: String, request: String)]) -> [ClaimOutcome] {
        let outcomes = Locked<[ClaimOutcome]>([])
        let threads = 64
        let finished = ConcurrentRun.run(threads: threads, timeoutSeconds: 120) { thread in
            let client = node.client(timeoutSeconds: 10)
            defer { client.close() }
            var mine: [ClaimOutcome] = []
            for index in stride(from: thread, to: claims.count, by: threads) {
                let claim = claims[index]
                if let outcome = try? node.timedClaim(campaignId: campaign, userId: claim.user, requestId: claim.request, on: client) {
                    mine.append(outcome)
                }
            }
            outcomes.withLock { $0 += mine }
        }
        #expect(finished)
        return outcomes.current
    }

    @Test func dailyUserCapAndDailyStockHoldUnder64Connections() throws {
        let node = try TestNode.start()
        defer { node.stop() }

        // 500 users × 8 requests, each user's requests adjacent so they race; 3 a day per user.
        let capped = try node.createCampaign(stock: 100_000, perUserLimit: 100, extra: #","time_zone":"Asia/Kolkata","user_daily_limit":3"#)
        let perUser = (0..<4_000).map { (user: "u\($0 / 8)", request: "d\($0)") }
        let outcomes = Self.run(node, campaign: capped, claims: perUser)
        #expect(outcomes.count == 4_000)
        let granted = outcomes.filter { $0.status == 201 }
        var perUserGrants: [String: Int] = [:]
        for outcome in granted { perUserGrants[outcome.userId, default: 0] += 1 }
        print("[caps] user_daily_limit 3: \(granted.count) granted, \(outcomes.filter { $0.code == "daily_limit_reached" }.count) daily_limit_reached")
        #expect(granted.count == 1_500)
        #expect(perUserGrants.count == 500)
        #expect(Set(perUserGrants.values) == [3])
        #expect(outcomes.filter { $0.status == 409 && $0.code == "daily_limit_reached" }.count == 2_500)

        // 3,000 users once each against 700 a day from 10:00 New York time.
        let daily = try node.createCampaign(
            stock: 100_000, perUserLimit: 1, extra: #","time_zone":"America/New_York","daily_stock":700,"daily_release_at":"10:00""#)
        let outcomes2 = Self.run(node, campaign: daily, claims: (0..<3_000).map { (user: "s\($0)", request: "s\($0)") })
        print("[caps] daily_stock 700: \(outcomes2.filter { $0.status == 201 }.count) granted, \(outcomes2.filter { $0.code == "daily_sold_out" }.count) daily_sold_out")
        #expect(outcomes2.count == 3_000)
        #expect(outcomes2.filter { $0.status == 201 }.count == 700)
        #expect(outcomes2.filter { $0.status == 409 && $0.code == "daily_sold_out" }.count == 2_300)

        #expect(try node.waitForFlush(campaignId: capped, expected: 1_500, seconds: 60))
        #expect(try node.waitForFlush(campaignId: daily, expected: 700, seconds: 60))
        #expect(try node.storedCoupons(capped).count == 1_500)
        #expect(try node.storedCoupons(daily).count == 700)
        #expect(try node.redisMeta(capped, "out:daily_limit_reached") == "2500")
        #expect(try node.redisMeta(daily, "out:daily_sold_out") == "2300")
        #expect(try node.redisStock(daily) == 99_300)

        // The campaign reads back with its caps; bad caps are refused with 400.
        let read = try JSONParser.parse(node.request("GET", "/v1/campaigns/\(daily)", as: .admin).body)
        #expect(read["time_zone"]?.stringValue == "America/New_York")
        #expect(read["daily_stock"]?.int64Value == 700)
        #expect(read["daily_release_at"]?.stringValue == "10:00")
        for bad in [#","time_zone":"Mars/Olympus","user_daily_limit":1"#, #","user_daily_limit":0"#, #","time_zone":"UTC""#, #","daily_stock":5,"daily_release_at":"25:00""#] {
            #expect(throws: (any Error).self, "\(bad)") { try node.createCampaign(stock: 10, perUserLimit: 1, extra: bad) }
        }
    }

    /// A schedule whose next day starts 1.5 s from now: the script counts the first claims in
    /// day 100 and, once Redis `TIME` passes the boundary, the next ones in day 101.
    @Test func theScriptChangesDayAtTheBoundaryByRedisTime() throws {
        let node = try TestNode.start(configure: { $0.campaignSyncSeconds = 3_600 })
        defer { node.stop() }
        let campaign = try node.createCampaign(
            stock: 1_000, perUserLimit: 10, extra: #","time_zone":"Asia/Shanghai","user_daily_limit":1,"daily_stock":2"#)
        let redis = try node.redisClient()
        let keys = CampaignKeys(campaignId: campaign)
        let time = try redis.command(["TIME"]).array!.compactMap { $0.string.flatMap { Int64($0) } }
        let now = time[0] * 1000 + time[1] / 1000
        _ = try redis.command(["DEL", .string(keys.periodDays)])
        _ = try redis.command([
            "ZADD", .string(keys.periodDays), .int(now - 60_000), "100:14:100", .int(now + 1_500), "101:14:101", .int(now + 600_000), "end",
        ])
        func claim(_ user: String, _ request: String) throws -> String? { TestNode.code(of: try node.claim(campaignId: campaign, userId: user, requestId: request)) }
        #expect(try claim("alice", "a1")?.count == 16)
        #expect(try claim("alice", "a2") == "daily_limit_reached")
        #expect(try claim("bob", "b1")?.count == 16)
        #expect(try claim("carol", "c1") == "daily_sold_out")
        Thread.sleep(forTimeInterval: 1.6)
        #expect(try claim("alice", "a3")?.count == 16)
        #expect(try claim("carol", "c2")?.count == 16)
        #expect(try claim("dave", "d1") == "daily_sold_out")
        #expect(try claim("alice", "a1")?.count == 16)  // a replay still answers the first grant
        let day101 = try redis.command(["HGETALL", .string("cp:\(keys.tag):pud:1")]).array?.compactMap(\.string) ?? []
        #expect(day101.count == 6 && Set(day101) == ["#p", "101", "alice", "1", "carol"])
        #expect(try redis.command(["HGET", .string("cp:\(keys.tag):pstock"), "100"]).string == "2")
        #expect(try redis.command(["HGET", .string("cp:\(keys.tag):pstock"), "101"]).string == "2")
        // Past the schedule's end the script refuses to guess: an error, not a grant.
        _ = try redis.command(["ZADD", .string(keys.periodDays), .int(now), "end"])
        _ = try redis.command(["ZREM", .string(keys.periodDays), "101:14:101"])
        let past = try node.claim(campaignId: campaign, userId: "erin", requestId: "e1")
        #expect(past.status >= 500)
        #expect(try node.redisMeta(campaign, "issued") == "4")
    }
}
