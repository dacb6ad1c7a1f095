import CouponCore
import CouponService
import HTTPServer
import Foundation
import Points
import ServiceTestSupport
import TestSupport
import Testing

/// Points accounts against a real node, Redis and PostgreSQL (issue 11).
@Suite(.serialized) struct PointsAccountTests {
    @Test func earnBalanceHistoryAndIdempotency() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let earn = #"{"points":300,"reason":"order paid","order_id":"o-1","idempotency_key":"k1"}"#
        let (status, first) = try node.json("POST", "/v1/users/alice/points/earn", as: .points, body: earn)
        #expect(status == 201)
        #expect(first["balance"]?.int64Value == 300)
        #expect(first["seq"]?.int64Value == 1)
        // Same key, same body: the same answer, no second credit.
        let (again, replay) = try node.json("POST", "/v1/users/alice/points/earn", as: .points, body: earn)
        #expect(again == 200)
        #expect(replay["seq"]?.int64Value == 1)
        #expect(replay["balance"]?.int64Value == 300)
        // Same key, other body: 422, nothing changes.
        let other = #"{"points":301,"reason":"order paid","order_id":"o-1","idempotency_key":"k1"}"#
        let (conflict, error) = try node.json("POST", "/v1/users/alice/points/earn", as: .points, body: other)
        #expect(conflict == 422)
        #expect(error["error"]?["code"]?.stringValue == "idempotency_conflict")
        #expect(try node.json("POST", "/v1/users/alice/points/earn", as: .points, body: #"{"points":50,"reason":"bonus","idempotency_key":"k2"}"#).0 == 201)

        // Bad input: 400 and nothing changes; wrong role: 403.
        for body in [
            #"{"points":0,"reason":"x","idempotency_key":"k3"}"#, #"{"points":-5,"reason":"x","idempotency_key":"k3"}"#,
            #"{"points":5,"idempotency_key":"k3"}"#, #"{"points":5,"reason":"x"}"#, #"{"points":5,"reason":"x","idempotency_key":"k3","extra":1}"#,
            #"{"points":5,"reason":"x","idempotency_key":"k 3"}"#, #"{"points":1.5,"reason":"x","idempotency_key":"k3"}"#,
        ] {
            #expect(try node.json("POST", "/v1/users/alice/points/earn", as: .points, body: body).0 == 400, "\(body)")
        }
        #expect(try node.json("POST", "/v1/users/alice/points/earn", as: .issue, body: earn).0 == 403)

        // Admin adjust: a debit beyond the balance is refused; a debit with a reason is written.
        #expect(try node.json("POST", "/v1/users/alice/points/adjust", as: .admin, body: #"{"points":-1000,"reason":"fraud","idempotency_key":"a1"}"#).0 == 409)
        let (adjusted, adjust) = try node.json("POST", "/v1/users/alice/points/adjust", as: .admin, body: #"{"points":-100,"reason":"support case 7","idempotency_key":"a2"}"#)
        #expect(adjusted == 201)
        #expect(adjust["balance"]?.int64Value == 250)

        let (_, balance) = try node.json("GET", "/v1/users/alice/points", as: .points)
        #expect(balance["balance"]?.int64Value == 250)
        #expect(balance["lots"]?.arrayValue?.count == 1)  // policy never: one lot
        #expect(balance["next_expiry"] == .null)

        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        #expect(try world.waitForFlush())
        let (_, history) = try node.json("GET", "/v1/users/alice/points/history?limit=2", as: .points)
        let entries = history["entries"]?.arrayValue ?? []
        #expect(entries.map { $0["seq"]?.int64Value } == [3, 2])
        #expect(entries.map { $0["kind"]?.stringValue } == ["adjust", "earn"])
        #expect(entries.first?["reason"]?.stringValue == "support case 7")
        #expect(entries.first?["points"]?.int64Value == -100)
        #expect(history["next_before_seq"]?.int64Value == 2)
        let (_, page2) = try node.json("GET", "/v1/users/alice/points/history?limit=2&before_seq=2", as: .points)
        #expect(page2["entries"]?.arrayValue?.map { $0["balance_after"]?.int64Value } == [300])
        #expect(page2["next_before_seq"] == .null)
        #expect(try world.balanceOffenders() == [])
    }

    /// Lots expire by the sweep against real servers; the balance never includes an expired lot
    /// and each expiry is an `expire` entry in the ledger. Spending takes the earliest lot first.
    @Test func expirySweepAndEarliestLotFirst() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let soon = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) + 1_500)
        let later = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000)
        #expect(try node.json("POST", "/v1/users/bob/points/earn", as: .points, body: #"{"points":70,"reason":"a","idempotency_key":"e1","expires_at":"\#(soon)"}"#).0 == 201)
        #expect(try node.json("POST", "/v1/users/bob/points/earn", as: .points, body: #"{"points":40,"reason":"b","idempotency_key":"e2","expires_at":"\#(later)"}"#).0 == 201)
        #expect(try node.json("POST", "/v1/users/bob/points/earn", as: .points, body: #"{"points":25,"reason":"c","idempotency_key":"e3"}"#).0 == 201)
        #expect(try node.json("POST", "/v1/users/carol/points/earn", as: .points, body: #"{"points":10,"reason":"d","idempotency_key":"e4","expires_at":"\#(soon)"}"#).0 == 201)
        let (_, before) = try node.json("GET", "/v1/users/bob/points", as: .points)
        #expect(before["balance"]?.int64Value == 135)
        #expect(before["next_expiry"]?["points"]?.int64Value == 70)
        // A debit of 30 comes out of the earliest lot (70 → 40 expiring soon).
        #expect(try node.json("POST", "/v1/users/bob/points/adjust", as: .admin, body: #"{"points":-30,"reason":"r","idempotency_key":"d1"}"#).0 == 201)

        let world = try PointsWorld(redis: node.redis, conninfo: node.conninfo)
        // Past the expiry: the balance leaves the lot out at once, and the sweep writes its expiry.
        let expired = TestEnvironment.waitUntil(seconds: 10, interval: 0.1) {
            ((try? world.postgres.execute("SELECT count(*) FROM points_ledger WHERE kind = 'expire'").first?.int(0)) ?? 0) == 2
        }
        #expect(expired)
        let (_, after) = try node.json("GET", "/v1/users/bob/points", as: .points)
        #expect(after["balance"]?.int64Value == 65)
        #expect(after["lots"]?.arrayValue?.map { $0["points"]?.int64Value } == [40, 25])
        let rows = try world.postgres.execute("SELECT user_id, points, balance_after FROM points_ledger WHERE kind = 'expire' ORDER BY user_id")
        #expect(try rows.map { [try $0.string(0), String(try $0.int64(1)), String(try $0.int64(2))] } == [["bob", "-40", "65"], ["carol", "-10", "0"]])
        #expect(try world.waitForFlush())
        #expect(try world.balanceOffenders() == [])
        #expect(try world.redis.command(["ZSCORE", .string(PointsKeys(userId: "carol").due), "carol"]).string == nil)
    }
}
