import CouponCore
import CouponService
import Dispatch
import Foundation
import Synchronization
import Testing

import ServiceTestSupport

/// In-store write-off (issue 13): a store key redeems only coupons usable in its store; the
/// events record the store and the till; a double scan writes off once; the store report
/// equals the raw ledger.
@Suite struct StoreWriteOffTests {
    static func writeOff(_ node: TestNode, store: String, key: String, _ body: String) throws -> Answer {
        let client = node.client()
        defer { client.close() }
        let response = try client.send(
            method: "POST", path: "/v1/stores/\(store)/write-offs",
            headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")], body: Array(body.utf8))
        return Answer(status: response.status, json: (try? JSONParser.parse(response.body)) ?? .null)
    }

    static func storeEvents(_ node: TestNode, _ code: String) throws -> [String] {
        try node.postgres().execute(
            "SELECT event, COALESCE(store_id, '-'), COALESCE(actor, '-') FROM coupon_events WHERE code = $1 ORDER BY id", [code]
        ).map { "\(try $0.string(0))@\(try $0.string(1))/\(try $0.string(2))" }
    }

    @Test func storeKeyWritesOffOnlyWhatItsStoreMayUse() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let s1 = node.keys[.store]!  // bound to S1, label "test"
        let s2 = try Commands.createKey(role: .store, label: "till-2", storeId: "S2", conninfo: node.conninfo)
        let onlyS1 = try node.createCampaign(
            stock: 10, perUserLimit: 5,
            templateId: node.createTemplate(
                #"{"name":"S1 voucher","currency":"CNY","kind":"cash","amount":500,"scope":{"store_ids":["S1"]},"validity":{"type":"relative","days":7}}"#))
        let code = try node.claimCode(campaign: onlyS1)
        #expect(try node.waitForFlush(campaignId: onlyS1, expected: 1))

        let elsewhere = try Self.writeOff(node, store: "S2", key: s2, #"{"code":"\#(code)","order_amount":2000}"#)
        #expect(elsewhere.status == 409)
        #expect(elsewhere.errorCode == "not_usable_here")
        #expect(try Self.storeEvents(node, code) == ["issued@-/-"])
        // A key acts for its own store only; other roles may not write off.
        #expect(try Self.writeOff(node, store: "S2", key: s1, #"{"code":"\#(code)"}"#).status == 403)
        #expect(try Self.writeOff(node, store: "S1", key: node.keys[.checkout]!, #"{"code":"\#(code)"}"#).status == 403)
        #expect(try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(code)","order_amount":-1}"#).status == 400)
        #expect(try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(code)","extra":1}"#).status == 400)
        #expect(try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(CouponCode.random().value)"}"#).status == 404)

        // Scanned or typed: lower case and dashes are the same code.
        let typed = code.lowercased().enumerated().map { $0.offset == 4 ? "-\($0.element)" : String($0.element) }.joined()
        let used = try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(typed)","order_id":"till-order-1","order_amount":2000}"#)
        #expect(used.status == 200)
        #expect(used["discount"]?.int64Value == 500)
        #expect(used["final_price"]?.int64Value == 1500)
        #expect(used["store_id"]?.stringValue == "S1")
        #expect(try Self.storeEvents(node, code) == ["issued@-/-", "redeemed@S1/test"])

        // The same scan again replays; another order is told when and where it was used.
        let again = try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(code)","order_id":"till-order-1","order_amount":2000}"#)
        #expect(again.status == 200)
        #expect(again["replayed"]?.boolValue == true)
        let late = try Self.writeOff(node, store: "S1", key: s1, #"{"code":"\#(code)","order_id":"till-order-2","order_amount":2000}"#)
        #expect(late.status == 409)
        #expect(late.errorCode == "already_redeemed")
        #expect(late.json["error"]?["store_id"]?.stringValue == "S1")
        #expect(late.json["error"]?["redeemed_at"]?.stringValue == used["redeemed_at"]?.stringValue)
        #expect(try Self.storeEvents(node, code) == ["issued@-/-", "redeemed@S1/test"])
    }

    @Test func twentyConcurrentScansAtTwoStoresWriteOffOnce() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let keys = [node.keys[.store]!, try Commands.createKey(role: .store, label: "till-2", storeId: "S2", conninfo: node.conninfo)]
        let campaign = try node.createCampaign(
            stock: 10, perUserLimit: 5,
            templateId: node.createTemplate(#"{"name":"Anywhere","currency":"CNY","kind":"cash","amount":300,"validity":{"type":"relative","days":7}}"#))
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            let store = index % 2 == 0 ? "S1" : "S2"
            let answer = try? Self.writeOff(
                node, store: store, key: keys[index % 2], #"{"code":"\#(code)","order_id":"o-\#(index)","order_amount":1000}"#)
            statuses.withLock { $0.append(answer?.status ?? -1) }
        }
        let all = statuses.withLock { $0 }
        #expect(all.filter { $0 == 200 }.count == 1)
        #expect(all.filter { $0 == 409 }.count == 19)
        let redeemed = try node.postgres().execute(
            "SELECT count(*) FROM coupon_events WHERE code = $1 AND event = 'redeemed'", [code]
        ).first!.int64(0)
        #expect(redeemed == 1)
    }

    @Test func storeReportEqualsTheRawLedger() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let s2 = try Commands.createKey(role: .store, label: "till-2", storeId: "S2", conninfo: node.conninfo)
        let campaign = try node.createCampaign(
            stock: 20, perUserLimit: 20,
            templateId: node.createTemplate(#"{"name":"Anywhere","currency":"CNY","kind":"cash","amount":300,"validity":{"type":"relative","days":7}}"#))
        let codes = try (0..<7).map { _ in try node.claimCode(campaign: campaign) }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 7))
        for (index, code) in codes.enumerated() where index < 6 {
            let (store, key) = index < 4 ? ("S1", node.keys[.store]!) : ("S2", s2)
            #expect(try Self.writeOff(node, store: store, key: key, #"{"code":"\#(code)","order_amount":\#(1000 + index)}"#).status == 200)
        }
        #expect(try node.redeem(codes[6], order: "online-1").status == 200)  // online: no store

        let today = try node.postgres().execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')").first!.string(0)
        let report = try JSONParser.parse(
            node.request("GET", "/v1/reports/stores?from=\(today)&to=\(today)&tz=UTC", as: .finance).body)
        let rows = try node.postgres().execute(
            """
            SELECT store_id, count(*), sum(discount) FROM coupon_events
            WHERE event = 'redeemed' AND store_id IS NOT NULL GROUP BY store_id ORDER BY store_id
            """
        ).map { "\(try $0.string(0)):\(try $0.int64(1)):\(try $0.int64(2))" }
        let reported = (report["stores"]?.arrayValue ?? []).map {
            "\($0["store_id"]?.stringValue ?? ""):\($0["totals"]?["write_offs"]?.int64Value ?? -1):\($0["totals"]?["discount"]?.int64Value ?? -1)"
        }
        #expect(rows == ["S1:4:1200", "S2:2:600"])
        #expect(reported == rows)
        let one = try JSONParser.parse(node.request("GET", "/v1/reports/stores?from=\(today)&to=\(today)&store_id=S2", as: .finance).body)
        #expect(one["stores"]?.arrayValue?.count == 1)
        #expect(try node.request("GET", "/v1/reports/stores?from=\(today)&to=\(today)&store_id=a%20b", as: .finance).status == 400)
        #expect(try node.request("GET", "/v1/reports/stores?from=\(today)", as: .finance).status == 400)
    }

    /// A store key on the checkout routes acts in its store only, in its own order namespace.
    @Test func storeKeyOnCheckoutRoutesStaysInItsStore() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let s1 = node.keys[.store]!
        func post(_ code: String, _ action: String, key: String, _ body: String) throws -> Answer {
            let client = node.client()
            defer { client.close() }
            let response = try client.send(
                method: "POST", path: "/v1/coupons/\(code)/\(action)",
                headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")], body: Array(body.utf8))
            return Answer(status: response.status, json: (try? JSONParser.parse(response.body)) ?? .null)
        }
        let s2Only = try node.createCampaign(
            stock: 10, perUserLimit: 5,
            templateId: node.createTemplate(
                #"{"name":"S2 only","currency":"CNY","kind":"cash","amount":500,"scope":{"store_ids":["S2"]},"validity":{"type":"relative","days":7}}"#))
        let anywhere = try node.createCampaign(stock: 10, perUserLimit: 5)
        let foreign = try node.claimCode(campaign: s2Only)
        let code = try node.claimCode(campaign: anywhere)

        let refused = try post(foreign, "redeem", key: s1, #"{"user_id":"alice","order_id":"o-1","order_amount":2000}"#)
        #expect(refused.status == 409)
        #expect(refused.errorCode == "not_usable_here")
        #expect(try post(code, "redeem", key: s1, #"{"user_id":"alice","order_id":"o-1","order_amount":25000,"store_id":"S2"}"#).status == 403)

        let locked = try post(code, "lock", key: s1, #"{"user_id":"alice","order_id":"o-1","order_amount":25000,"ttl_seconds":60}"#)
        #expect(locked.status == 200)
        #expect(locked["order_id"]?.stringValue == "store:S1:o-1")
        // Online checkout's order o-1 is another order: it cannot confirm the till's lock.
        #expect(try node.orderAction(code, "confirm", order: "o-1").errorCode == "locked")
        let confirmed = try post(code, "confirm", key: s1, #"{"user_id":"alice","order_id":"o-1"}"#)
        #expect(confirmed.status == 200)
        #expect(confirmed["state"]?.stringValue == "redeemed")
        #expect(try Self.storeEvents(node, code) == ["issued@-/-", "locked@S1/test", "redeemed@S1/test"])
        let restored = try post(code, "restore", key: s1, #"{"user_id":"alice","order_id":"o-1","reason":"returned at the counter"}"#)
        #expect(restored.status == 200)
        #expect(try Self.storeEvents(node, code).last == "restored@S1/test")
    }
}
