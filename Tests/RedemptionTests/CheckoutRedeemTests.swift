import CouponCore
import Foundation
import HTTPServer
import GrantFlusher
import PostgresClient
import Redemption
import ServiceTestSupport
import Testing

/// Redeem against a real node, PostgreSQL and Redis. The default template is
/// `amount_off` spend 20000 save 3000, valid 7 days from the claim.
@Suite(.serialized) struct CheckoutRedeemTests {
    @Test func redeemAnswersPriceAndIsIdempotentPerOrder() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        let first = try node.redeem(code, order: "o-1", amount: 25_000, shipping: 800)
        #expect(first.status == 200)
        #expect(first["code"]?.stringValue == code)
        #expect(first["state"]?.stringValue == "redeemed")
        #expect(first["order_id"]?.stringValue == "o-1")
        #expect(first["order_amount"]?.int64Value == 25_000)
        #expect(first["shipping_fee"]?.int64Value == 800)
        #expect(first["discount"]?.int64Value == 3000)
        #expect(first["final_price"]?.int64Value == 22_800)
        #expect(first["redeemed_at"]?.stringValue != nil)

        let again = try node.redeem(code, order: "o-1", amount: 25_000, shipping: 800)
        #expect(again.status == 200)
        #expect(again.json == first.json)

        let other = try node.redeem(code, order: "o-2")
        #expect(other.status == 409)
        #expect(other.errorCode == "already_redeemed")

        #expect(try node.events(code) == ["issued", "redeemed:o-1:25000/3000"])
        #expect(try node.couponRow(code) == "redeemed o-1 3000")
    }

    @Test func someoneElsesOrUnknownCodeIsNotFound() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign, user: "alice")
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        for answer in [
            try node.redeem(code, user: "mallory", order: "o-1"),
            try node.redeem("ZZZZZZZZZZZZZZZZ", order: "o-1"),
            try node.redeem("not%20a%20code", order: "o-1"),
            try node.lock(code, user: "mallory", order: "o-1"),
            try node.restore(code, user: "mallory", order: "o-1"),
        ] {
            #expect(answer.status == 404)
            #expect(answer.errorCode == "not_found")
            #expect(answer["error"]?["message"]?.stringValue == "coupon not found")
        }
        #expect(try node.events(code) == ["issued"])
    }

    @Test func unusableCouponsAreRefusedWithTheirReasonAndNothingChanges() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let scoped = try node.createTemplate(
            """
            {"name":"Store S1 only","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,
             "scope":{"store_ids":["S1"]},"validity":{"type":"relative","days":7}}
            """)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5, templateId: scoped)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        let below = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":19999,"store_id":"S1"}"#)
        #expect(below.status == 409)
        #expect(below.errorCode == "below_threshold")
        let elsewhere = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":20000,"store_id":"S2"}"#)
        #expect(elsewhere.status == 409)
        #expect(elsewhere.errorCode == "out_of_scope")
        let noStore = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":20000}"#)
        #expect(noStore.errorCode == "out_of_scope")
        #expect(try node.events(code) == ["issued"])
        #expect(try node.couponRow(code) == "issued - -")

        let ok = try node.checkout(code, "redeem", #"{"user_id":"alice","order_id":"o-1","order_amount":20000,"store_id":"S1"}"#)
        #expect(ok.status == 200)
        #expect(ok["discount"]?.int64Value == 3000)
        #expect(ok["final_price"]?.int64Value == 17_000)
    }

    @Test func notYetValidCouponIsRefused() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let future = try node.createTemplate(
            """
            {"name":"Next week","currency":"CNY","kind":"cash","amount":500,
             "validity":{"type":"fixed","from":"\(RFC3339.format(epochMs: now + 86_400_000))","until":"\(RFC3339.format(epochMs: now + 2 * 86_400_000))"}}
            """)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5, templateId: future)
        let code = try node.claimCode(campaign: campaign)
        let answer = try node.redeem(code, order: "o-1")
        #expect(answer.status == 409)
        #expect(answer.errorCode == "not_yet_valid")
        let lock = try node.lock(code, order: "o-1")
        #expect(lock.errorCode == "not_yet_valid")
        #expect(try node.events(code) == ["issued"])
    }

    @Test func badInputIs400AndChangesNothing() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        let bodies: [(String, String)] = [
            ("redeem", ""),
            ("redeem", "[]"),
            ("redeem", "{"),
            ("redeem", #"{"order_id":"o","order_amount":1}"#),
            ("redeem", #"{"user_id":"alice","order_amount":1}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o"}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":-1}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":1.5}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":"100"}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":1000000000000000001}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":99999999999999999999999}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":30000,"shipping_fee":-5}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":30000,"shiping_fee":5}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o o","order_amount":30000}"#),
            ("redeem", #"{"user_id":"alice","order_id":"o","order_amount":30000,"store_id":7}"#),
            ("lock", #"{"user_id":"alice","order_id":"o","order_amount":30000}"#),
            ("lock", #"{"user_id":"alice","order_id":"o","order_amount":30000,"ttl_seconds":0}"#),
            ("lock", #"{"user_id":"alice","order_id":"o","order_amount":30000,"ttl_seconds":3601}"#),
            ("confirm", #"{"user_id":"alice"}"#),
            ("release", #"{"user_id":"alice","order_id":"o","extra":1}"#),
            ("restore", #"{"user_id":"alice","order_id":"o"}"#),
            ("restore", #"{"user_id":"alice","order_id":"o","reason":""}"#),
            ("restore", #"{"user_id":"alice","order_id":"o","reason":"a\nb"}"#),
        ]
        for (action, body) in bodies {
            let answer = try node.checkout(code, action, body)
            #expect(answer.status == 400, "\(action) \(body) → \(answer)")
            #expect(answer.errorCode == "invalid_request", "\(action) \(body)")
        }
        #expect(try node.request("POST", "/v1/coupons/\(code)/redeem", as: nil, body: "{}").status == 401)
        #expect(try node.request("POST", "/v1/coupons/\(code)/redeem", as: .issue, body: "{}").status == 403)
        #expect(try node.events(code) == ["issued"])
        #expect(try node.couponRow(code) == "issued - -")
    }

    @Test func twentyConcurrentRedeemsOfOneCouponGrantExactlyOne() throws {
        let node = try TestNode.start(loops: 2)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))

        let answers = Answers()
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            let answer = try? node.redeem(code, order: "order-\(index)")
            answers.append(answer.map { "\($0.status) \($0.errorCode ?? "ok")" } ?? "transport error")
        }
        let counts = Dictionary(grouping: answers.values, by: { $0 }).mapValues(\.count)
        #expect(counts == ["200 ok": 1, "409 already_redeemed": 19])
        let events = try node.events(code)
        #expect(events.count == 2)
        #expect(events.first == "issued")
        #expect(events.last?.hasPrefix("redeemed:order-") == true)
    }

    @Test func redeemRightAfterClaimBeforeFlushWritesTheGrantOnce() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.couponCount(campaignId: campaign) == 0)

        let answer = try node.redeem(code, order: "o-1")
        #expect(answer.status == 200, "\(answer)")
        #expect(answer["discount"]?.int64Value == 3000)
        #expect(try node.couponCount(campaignId: campaign) == 1)
        #expect(try node.events(code) == ["issued", "redeemed:o-1:25000/3000"])

        // The flusher now delivers the same grant: no second row, no second `issued`.
        let flusher = Flusher(consumer: "late", redis: node.redis.endpoint, postgresConninfo: node.conninfo, options: TestNode.fastFlusher)
        var handled = 0
        for _ in 0..<50 where handled == 0 { handled += try flusher.runOnce() }
        #expect(handled == 1)
        #expect(try node.couponCount(campaignId: campaign) == 1)
        #expect(try node.events(code) == ["issued", "redeemed:o-1:25000/3000"])
        #expect(try node.couponRow(code) == "redeemed o-1 3000")
        let pending = try node.redisClient().command(["XPENDING", "cp:{c:\(campaign)}:grants", "flushers"])
        #expect(pending.array?.first?.int == 0)
    }

    @Test func concurrentRedeemsBeforeFlushStillWriteOneRow() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        let answers = Answers()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let answer = try? node.redeem(code, order: "order-\(index)")
            answers.append(answer.map { "\($0.status) \($0.errorCode ?? "ok")" } ?? "transport error")
        }
        let counts = Dictionary(grouping: answers.values, by: { $0 }).mapValues(\.count)
        #expect(counts == ["200 ok": 1, "409 already_redeemed": 7])
        #expect(try node.couponCount(campaignId: campaign) == 1)
        #expect(try node.events(code).count == 2)
    }
}

/// Collects answers from concurrent threads.
final class Answers: @unchecked Sendable {  // `storage` is guarded by `lock`
    private let lock = NSLock()
    private var storage: [String] = []

    func append(_ value: String) {
        lock.lock()
        storage.append(value)
        lock.unlock()
    }

    var values: [String] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
