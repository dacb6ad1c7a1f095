import CouponCore
import CouponService
import Foundation
import HTTPServer
import Points
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Balances rebuilt from `points_ledger` when Redis lost its data (issue 11).
@Suite(.serialized) struct PointsRebuildTests {
    /// The replay follows the scripts' rules: earliest-expiring lots first, a refund gives back
    /// the lots its spend took, an expire empties its lot.
    @Test func replayFollowsTheScriptsRules() {
        func event(_ seq: Int64, _ kind: PointsEventKind, _ points: Int64, lot: Int64? = nil, request: String? = nil) -> PointsEvent {
            PointsEvent(userId: "u", seq: seq, kind: kind, points: points, balanceAfter: 0, atMs: 0, lotExpiryMs: lot, requestId: request, campaignId: request == nil ? nil : 7)
        }
        let replay = PointsLedgerReplay([
            event(1, .earn, 100, lot: 1_000), event(2, .earn, 50), event(3, .earn, 30, lot: 2_000),
            event(4, .spend, -120, request: "x1"),  // 100 of lot 1000, 20 of lot 2000
            event(5, .refund, 120, request: "x1"),  // back into both
            event(6, .spend, -110, request: "x2"),  // 100 of lot 1000, 10 of lot 2000
            event(7, .expire, -20, lot: 2_000), event(8, .adjust, -10), event(9, .refund, 5, request: "unknown"),
        ])
        #expect(replay.balance == 45)
        #expect(replay.seq == 9)
        #expect(replay.orderedLots == [PointsLot(expiresAtMs: nil, points: 45)])
        let partial = PointsLedgerReplay([event(1, .earn, 100, lot: 1_000), event(2, .earn, 50), event(3, .spend, -30, request: "x")])
        #expect(partial.orderedLots == [PointsLot(expiresAtMs: 1_000, points: 70), PointsLot(expiresAtMs: nil, points: 50)])
    }

    @Test func accountsComeBackAfterRedisLosesThem() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try ExchangeTests.exchangeCampaign(node, stock: 10, limit: 1, cost: 40)
        let client = node.client()
        defer { client.close() }
        let later = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000)
        for n in 0..<12 {
            try ExchangeTests.earn(node, "v\(n)", 50 + Int64(n), on: client)
            _ = try node.json("POST", "/v1/users/v\(n)/points/earn", as: .points, body: #"{"points":20,"reason":"promo","idempotency_key":"p","expires_at":"\#(later)"}"#, on: client)
            if n % 2 == 0 {
                #expect(try node.json("POST", "/v1/campaigns/\(campaign)/exchanges", as: .issue, body: #"{"user_id":"v\#(n)","request_id":"e\#(n)"}"#, on: client).0 == 201)
            }
        }
        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(try world.waitForFlush(campaignId: campaign))
        func accounts() throws -> [String] {
            try (0..<12).map { n in
                let (_, body) = try node.json("GET", "/v1/users/v\(n)/points", as: .points, on: client)
                let lots = body["lots"]?.arrayValue?.map { "\($0["points"]?.int64Value ?? -1)@\($0["expires_at"]?.stringValue ?? "never")" } ?? []
                return "v\(n): \(body["balance"]?.int64Value ?? -1) [\(lots.joined(separator: ","))]"
            }
        }
        let before = try accounts()

        // Redis loses everything; in the same transaction an earn arrives: refused, nothing written.
        let redis = try node.redisClient()
        let credit = PointsCredit(userId: "v1", kind: .earn, points: 5, expiresAtMs: nil, reason: "r", orderId: nil, idempotencyKey: "k", digest: "d")
        let (keys, args) = credit.call
        let replies = try redis.pipeline([["MULTI"], ["FLUSHALL"], PointsScripts.credit.loadCommand, PointsScripts.credit.evalshaCommand(keys: keys, args: args), ["EXEC"]])
        #expect(try replies[4].get().array?.last?.array?.first?.string == "rebuilding")
        let (status, rebuilt) = try node.json("POST", "/v1/points/rebuild", as: .admin, on: client)
        #expect(status == 200)
        let byRoute = rebuilt["users_rebuilt"]?.int64Value ?? 0
        let bySweep = Int64(node.node.pointsFlusherForTests?.rebuiltUsers.load(ordering: .relaxed) ?? 0)
        #expect(byRoute + bySweep == 12)
        #expect(try accounts() == before)
        #expect(try node.json("POST", "/v1/points/rebuild", as: .admin, on: client).1["buckets_rebuilt"]?.int64Value == 0)
        // Events go on from the ledger's numbers: conservation holds after new ones.
        let (earned, answer) = try node.json("POST", "/v1/users/v3/points/earn", as: .points, body: #"{"points":7,"reason":"after","idempotency_key":"after"}"#, on: client)
        #expect(earned == 201)
        #expect(answer["seq"]?.int64Value == 3)
        #expect(try world.waitForFlush())
        #expect(try world.balanceOffenders() == [])
    }
}
