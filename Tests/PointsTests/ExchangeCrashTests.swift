import CouponCore
import CouponService
import Foundation
import HTTPServer
import Issuance
import Points
import RedisClient
import ServiceTestSupport
import TestSupport
import Synchronization
import Testing

/// Nodes dying between the steps of exchanges (issue 11 must-show): the recovery sweep finishes
/// or refunds every half-done exchange and the invariants hold.
@Suite(.serialized) struct ExchangeCrashTests {
    /// Exactly the states a dead node leaves: after step 1 (points reserved, no claim) and after
    /// step 2 (claimed, not finished), some of them granted and some refused. The sweep of a live
    /// node finishes each the way the dead node would have.
    @Test func sweepFinishesExchangesLeftAfterEachStep() throws {
        let node = try TestNode.start(configure: { $0.pointsRecoveryGraceMs = 300 })
        defer { node.stop() }
        let campaign = try ExchangeTests.exchangeCampaign(node, stock: 3, limit: 1, cost: 100)
        let client = node.client()
        defer { client.close() }
        for user in 0..<8 { try ExchangeTests.earn(node, "d\(user)", 250, on: client) }
        let redis = try node.redisClient()
        let settings = ExchangeSettings(pointsCost: 100, minPointsBalance: 0)
        func reserve(_ request: ExchangeRequest) throws {
            let call = Exchange.reserveCall(request, settings: settings)
            #expect(try redis.evalScript(PointsScripts.reserve, keys: call.keys, args: call.args).array?.first?.string == "reserved")
        }
        func claim(_ request: ExchangeRequest) throws -> String? {
            try redis.evalScript(
                ExchangeClaimScript.script, keys: ExchangeClaimScript.keys(request.campaignKeys, userId: request.userId, requestId: request.requestId),
                args: ExchangeClaimScript.arguments(userId: request.userId, requestId: request.requestId, code: .random(), tags: [])
            ).array?.first?.string
        }
        let requests = (0..<8).map { ExchangeRequest(campaignId: campaign, userId: "d\($0)", requestId: "x\($0)") }
        // d0–d4 die after step 2 (d0–d2 granted, the stock is then gone: d3, d4 refused); d5–d7 after step 1.
        for request in requests { try reserve(request) }
        let claimed = try requests[0..<5].map(claim)
        #expect(claimed == ["granted", "granted", "granted", "sold_out", "sold_out"])
        // The replayed decision is the node's answer too: a retry by the client finishes d0 at once.
        let (status, retried) = try node.json(
            "POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue, body: #"{"user_id":"d0","request_id":"x0"}"#, on: client)
        #expect(status == 201)
        #expect(retried["points_spent"] == nil)  // a replay

        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(TestEnvironment.waitUntil(seconds: 15, interval: 0.1) { (try? world.pendingReservations()) == 0 })
        #expect(try world.waitForFlush(campaignId: campaign))
        let states = try requests.map { request in
            try redis.command(["HGET", .string(request.pointsKeys.reservation(request.member)), "state"]).string ?? "none"
        }
        #expect(states == ["committed", "committed", "committed", "refunded", "refunded", "refunded", "refunded", "refunded"])
        #expect(try node.storedCoupons(campaign).map(\.user).sorted() == ["d0", "d1", "d2"])
        #expect(try world.balanceOffenders() == [])
        #expect(try world.exchangeOffenders(campaignId: campaign, cost: 100) == [])
        let (_, d5) = try node.json("GET", "/v1/users/d5/points", as: .points)
        #expect(d5["balance"]?.int64Value == 250)
        let (_, d1) = try node.json("GET", "/v1/users/d1/points", as: .points)
        #expect(d1["balance"]?.int64Value == 150)
    }

    /// The real `coupond` process is SIGKILLed 20 times at random points of a stream of exchanges
    /// (clients retry the same request id on the next process); an in-process node stays up as
    /// the survivor whose sweep finishes what the dead ones left.
    @Test func killingTheNode20TimesKeepsEveryInvariant() throws {
        let survivor = try TestNode.start(configure: { $0.pointsRecoveryGraceMs = 500 })
        defer { survivor.stop() }
        let stock: Int64 = 1_500, cost: Int64 = 100, users = 1_000, threads = 16
        let campaign = try ExchangeTests.exchangeCampaign(survivor, stock: stock, limit: 2, cost: cost)
        var generator = SystemRandomNumberGenerator()
        let seedClient = survivor.client()
        for user in 0..<users { try ExchangeTests.earn(survivor, "k\(user)", Int64.random(in: 1...400, using: &generator), on: seedClient) }
        seedClient.close()
        let issueKey = survivor.keys[.issue]!

        let port = Atomic<Int>(0)
        let granted = Locked<[String: String]>([:])  // request id → code answered 201
        var next = 0
        for round in 0..<20 {
            let process = try NodeProcess.start(
                settings: ["POINTS_RECOVERY_GRACE_MS": "500", "NODE_ID": "crash-\(round)"], redis: survivor.redis, database: survivor.conninfo)
            port.store(process.port, ordering: .releasing)
            let first = next
            next += 400
            let stop = Atomic<Bool>(false)
            let done = DispatchGroup()
            for thread in 0..<threads {
                DispatchQueue.global().async(group: done) {
                    var attempt = first + thread
                    while !stop.load(ordering: .acquiring) && attempt < first + 400 {
                        let client = BlockingHTTPClient(port: port.load(ordering: .acquiring), timeoutSeconds: 2)
                        defer { client.close() }
                        let body = #"{"user_id":"k\#(attempt % users)","request_id":"c\#(attempt)"}"#
                        guard let response = try? client.send(
                            method: "POST", path: "/v1/campaigns/\(campaign)/exchanges",
                            headers: [("Authorization", "Bearer \(issueKey)"), ("Content-Type", "application/json")], body: Array(body.utf8))
                        else { break }  // the node died under this request: its outcome is the sweep's
                        if response.status == 201, let code = TestNode.code(of: response) { granted.withLock { $0["c\(attempt)"] = code } }
                        attempt += threads
                    }
                }
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &generator))
            _ = process.stop(signal: SIGKILL, within: 5)
            stop.store(true, ordering: .releasing)
            done.wait()
        }

        let world = try PointsWorld(redis: survivor.redis, conninfo: survivor.conninfo)
        #expect(TestEnvironment.waitUntil(seconds: 30, interval: 0.1) { (try? world.pendingReservations()) == 0 })
        #expect(try world.waitForFlush(campaignId: campaign, seconds: 60))
        let coupons = try survivor.storedCoupons(campaign)
        #expect(coupons.count <= Int(stock))
        #expect(try survivor.redisStock(campaign) == stock - Int64(coupons.count))
        let stored = Set(coupons.map(\.code))
        #expect(granted.current.values.allSatisfy(stored.contains), "every acknowledged exchange is in PostgreSQL")
        #expect(try world.balanceOffenders() == [])
        #expect(try world.exchangeOffenders(campaignId: campaign, cost: cost) == [])
        print("exchange crash test: \(granted.current.count) acknowledged, \(coupons.count) granted, recovered by sweeps on the survivor: \(survivor.node.pointsFlusherForTests?.recovered.load(ordering: .relaxed) ?? -1)")
    }
}
