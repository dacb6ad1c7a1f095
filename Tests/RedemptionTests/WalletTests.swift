import CouponCore
import Foundation
import HTTPServer
import PostgresClient
import Redemption
import ServiceTestSupport
import Testing

/// `GET /v1/users/{user_id}/coupons` with and without order parameters.
@Suite(.serialized) struct WalletTests {
    func get(_ node: TestNode, _ path: String) throws -> Answer {
        let response = try node.request("GET", path, as: .checkout)
        return Answer(status: response.status, json: (try? JSONParser.parse(response.body)) ?? .null)
    }

    func list(_ value: JSONValue?, _ field: String) -> [String] {
        (value?.arrayValue ?? []).map { $0[field]?.stringValue ?? $0[field].map { "\($0)" } ?? "-" }
    }

    @Test func walletForAnOrderRanksUsableCouponsAndGivesReasons() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let amountOff = try node.createCampaign(stock: 10, perUserLimit: 10)
        let percent = try node.createCampaign(stock: 10, perUserLimit: 10, templateId: node.createTemplate(
            #"{"name":"20% off","currency":"CNY","kind":"percent_off","percent":20,"cap":5000,"validity":{"type":"relative","days":7}}"#))
        let shipping = try node.createCampaign(stock: 10, perUserLimit: 10, templateId: node.createTemplate(
            #"{"name":"Free shipping","currency":"CNY","kind":"free_shipping","validity":{"type":"relative","days":7}}"#))
        let storeOnly = try node.createCampaign(stock: 10, perUserLimit: 10, templateId: node.createTemplate(
            #"{"name":"S1 only","currency":"CNY","kind":"amount_off","threshold":0,"amount":1000,"scope":{"store_ids":["S1"]},"validity":{"type":"relative","days":7}}"#))
        let future = try node.createCampaign(stock: 10, perUserLimit: 10, templateId: node.createTemplate(
            """
            {"name":"Later","currency":"CNY","kind":"cash","amount":500,
             "validity":{"type":"fixed","from":"\(RFC3339.format(epochMs: now + 86_400_000))","until":"\(RFC3339.format(epochMs: now + 2 * 86_400_000))"}}
            """))
        let redeemed = try node.claimCode(campaign: amountOff)
        let locked = try node.claimCode(campaign: amountOff)
        let plain = try node.claimCode(campaign: amountOff)
        let expired = try node.claimCode(campaign: amountOff)
        let twenty = try node.claimCode(campaign: percent)
        let free = try node.claimCode(campaign: shipping)
        let s1 = try node.claimCode(campaign: storeOnly)
        let later = try node.claimCode(campaign: future)
        #expect(try node.waitForFlush(campaignId: future, expected: 1))
        #expect(try node.waitForFlush(campaignId: amountOff, expected: 4))
        #expect(try node.redeem(redeemed, order: "o-1").status == 200)
        #expect(try node.lock(locked, order: "o-2").status == 200)
        // Distinct windows, so the unusable list has one order (claims can share a millisecond).
        for (code, offset) in [(expired, "-1 second"), (redeemed, "3 days"), (locked, "4 days"), (s1, "5 days")] {
            try node.postgres().execute("UPDATE coupons SET valid_until = now() + $2::interval WHERE code = $1", [code, offset])
        }

        let priced = try get(node, "/v1/users/alice/coupons?order_amount=30000&shipping_fee=800&store_id=S2")
        #expect(priced.status == 200)
        #expect(priced["order"]?["order_amount"]?.int64Value == 30_000)
        #expect(priced["order"]?["shipping_fee"]?.int64Value == 800)
        #expect(priced["order"]?["store_id"]?.stringValue == "S2")
        let usable = priced["usable"]
        #expect(list(usable, "code") == [twenty, plain, free])
        #expect((usable?.arrayValue ?? []).map { $0["discount"]?.int64Value ?? -1 } == [5000, 3000, 800])
        #expect((usable?.arrayValue ?? []).map { $0["final_price"]?.int64Value ?? -1 } == [25_800, 27_800, 30_000])
        #expect(list(usable, "kind") == ["percent_off", "amount_off", "free_shipping"])
        let unusable = priced["unusable"]
        #expect(list(unusable, "code") == [expired, later, redeemed, locked, s1])
        #expect(list(unusable, "reason") == ["expired", "not_yet_valid", "redeemed", "locked", "out_of_scope"])
        #expect(list(unusable, "state") == ["expired", "issued", "redeemed", "locked", "issued"])

        let below = try get(node, "/v1/users/alice/coupons?order_amount=100")
        // Free shipping on an order without a shipping fee gives nothing: unusable, never "best".
        #expect(list(below["usable"], "code") == [twenty])
        #expect((below["usable"]?.arrayValue ?? []).map { $0["discount"]?.int64Value ?? -1 } == [20])
        #expect(list(below["unusable"], "code") == [expired, later, redeemed, locked, s1, plain, free])
        #expect(list(below["unusable"], "reason") == ["expired", "not_yet_valid", "redeemed", "locked", "out_of_scope", "below_threshold", "no_benefit"])

        // Without order parameters: every coupon, grouped by its state now, with counts.
        let all = try get(node, "/v1/users/alice/coupons")
        #expect(all.status == 200)
        #expect(list(all["coupons"], "state") == ["issued", "issued", "issued", "issued", "issued", "locked", "redeemed", "expired"])
        #expect(list(all["coupons"], "code").suffix(3) == [locked, redeemed, expired])
        #expect(all["counts"]?["issued"]?.int64Value == 5)
        #expect(all["counts"]?["locked"]?.int64Value == 1)
        #expect(all["counts"]?["redeemed"]?.int64Value == 1)
        #expect(all["counts"]?["expired"]?.int64Value == 1)
        #expect(all["counts"]?["revoked"]?.int64Value == 0)
        let first = all["coupons"]?[0]
        for field in ["code", "campaign_id", "user_id", "request_id", "state", "issued_at", "valid_from", "valid_until", "flushed"] {
            #expect(first?[field] != nil, "missing \(field)")
        }
        // Reading the wallet writes nothing.
        #expect(try node.events(expired) == ["issued"])
    }

    @Test func unflushedGrantsArePricedToo() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 10)
        let code = try node.claimCode(campaign: campaign)
        let priced = try get(node, "/v1/users/alice/coupons?order_amount=20000")
        #expect(list(priced["usable"], "code") == [code])
        #expect(priced["usable"]?[0]?["flushed"] == .bool(false))
        #expect(priced["usable"]?[0]?["final_price"]?.int64Value == 17_000)
        let all = try get(node, "/v1/users/alice/coupons")
        #expect(list(all["coupons"], "code") == [code])
        #expect(all["coupons"]?[0]?["flushed"] == .bool(false))
    }

    @Test func badOrderParametersAre400() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        for query in [
            "order_amount=abc", "order_amount=-1", "order_amount=", "order_amount=1.5", "order_amount=1000000000000000001",
            "order_amount=99999999999999999999", "shipping_fee=10", "order_amount=10&shipping_fee=x",
            "order_amount=10&store_id=a%20b", "order_amount=10&business_line=",
        ] {
            let answer = try get(node, "/v1/users/alice/coupons?\(query)")
            #expect(answer.status == 400, "\(query) → \(answer)")
            #expect(answer.errorCode == "invalid_request", "\(query)")
        }
        #expect(try get(node, "/v1/users/alice/coupons?order_amount=0").status == 200)
    }
}
