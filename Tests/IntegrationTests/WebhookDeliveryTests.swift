import CouponCore
import EventLoop
import Foundation
import HTTPServer
import PostgresClient
import ServiceTestSupport
import Synchronization
import Testing
import Webhooks

/// Webhooks (issue 12): a real HTTP receiver started by the test fails every other delivery and
/// is restarted twice while events happen; every event is still delivered, every signature
/// verifies, and each coupon's events arrive in ledger order.
@Suite(.serialized) struct WebhookDeliveryTests {
    struct Received: Sendable {
        let delivery: Int64
        let event: String
        let status: Int
        let signatureValid: Bool
        let body: JSONValue
    }

    /// How the receiver answers: 500 to every other request, always 200, always 500.
    enum Mode { case alternate, accept, fail }

    /// A receiver on a fixed port that answers 500 to every other request (or as `mode` says).
    final class Receiver: @unchecked Sendable {  // `server` is replaced only by the test thread
        let group: EventLoopGroup
        let mode = Mutex<Mode>(.alternate)
        let log = Mutex<[Received]>([])
        let counter = Atomic<Int>(0)
        let secret = Mutex<String>("")
        private(set) var server: HTTPServer?
        private(set) var port = 0

        init() throws { group = try EventLoopGroup(count: 1, namePrefix: "hook-receiver") }

        /// A receiver answering as `mode` says, already listening.
        static func started(_ mode: Mode) throws -> Receiver {
            let receiver = try Receiver()
            receiver.mode.withLock { $0 = mode }
            try receiver.start()
            return receiver
        }

        func start() throws {
            let router = Router()
            router.add(.POST, "/hook") { [self] request, _, responder in
                let turn = counter.add(1, ordering: .relaxed).newValue
                let fail = switch mode.withLock({ $0 }) {
                case .alternate: turn % 2 == 0
                case .accept: false
                case .fail: true
                }
                let status = fail ? 500 : 200
                let timestamp = Int64(request.headers["X-Coupond-Timestamp"] ?? "") ?? -1
                let valid = WebhookSignature.verify(
                    header: request.headers["X-Coupond-Signature"] ?? "", secret: secret.withLock { $0 }, timestamp: timestamp, body: request.body)
                let entry = Received(
                    delivery: Int64(request.headers["X-Coupond-Delivery"] ?? "") ?? -1, event: request.headers["X-Coupond-Event"] ?? "",
                    status: status, signatureValid: valid, body: (try? JSONParser.parse(request.body)) ?? .null)
                log.withLock { $0.append(entry) }
                responder.respond(.text(status: status, fail ? "try again" : "ok"))
            }
            let server = HTTPServer(group: group, configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), router: router)
            try server.start()
            port = server.port
            self.server = server
        }

        func restart(downFor seconds: Double) throws {
            server?.stop()
            server = nil
            Thread.sleep(forTimeInterval: seconds)
            try start()
        }

        func stop() {
            server?.stop()
            group.shutdown()
        }
    }

    @Test func everyEventDeliveredSignedAndInOrderDespiteFailuresAndRestarts() throws {
        let receiver = try Receiver()
        try receiver.start()
        defer { receiver.stop() }
        let node = try TestNode.start(configure: { $0.webhookMaxBackoffMs = 400 })
        defer { node.stop() }

        let created = try node.request(
            "POST", "/v1/webhooks", as: .admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","events":["coupon.granted","coupon.redeemed","coupon.restored","job.finished"]}"#)
        #expect(created.status == 201, "\(created.bodyString)")
        let subscription = try JSONParser.parse(created.body)
        receiver.secret.withLock { $0 = subscription["secret"]?.stringValue ?? "" }
        #expect(receiver.secret.withLock { $0 }.hasPrefix("whsec_"))
        // Bad subscriptions: 400.
        for bad in [#"{"url":"https://x/hook","events":["coupon.granted"]}"#, #"{"url":"http://x/hook","events":["coupon.sold"]}"#,
                    #"{"url":"http://x/hook","events":["coupon.expiring"]}"#] {
            #expect(try node.request("POST", "/v1/webhooks", as: .admin, body: bad).status == 400, "\(bad)")
        }
        let listed = try JSONParser.parse(node.request("GET", "/v1/webhooks", as: .admin).body)
        #expect(listed["subscriptions"]?.arrayValue?.count == 1)
        #expect(listed["subscriptions"]?.arrayValue?.first?["secret"] == nil)

        let campaign = try node.createCampaign(stock: 50, perUserLimit: 1)
        var codes: [String] = []
        for user in 0..<30 {
            let response = try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)")
            codes.append(TestNode.code(of: response) ?? "")
        }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 30))
        try receiver.restart(downFor: 0.5)
        func checkout(_ user: Int, _ action: String, _ fields: String) throws {
            let response = try node.request(
                "POST", "/v1/coupons/\(codes[user])/\(action)", as: .checkout, body: #"{"user_id":"u\#(user)",\#(fields)}"#)
            #expect(response.status == 200, "\(action) \(response.bodyString)")
        }
        for user in 0..<15 { try checkout(user, "redeem", #""order_id":"o\#(user)","order_amount":30000,"shipping_fee":0"#) }
        try receiver.restart(downFor: 0.5)
        for user in 0..<8 { try checkout(user, "restore", #""order_id":"o\#(user)","reason":"refund""#) }
        for user in 0..<4 { try checkout(user, "redeem", #""order_id":"p\#(user)","order_amount":30000,"shipping_fee":0"#) }
        let client = BlockingHTTPClient(host: "127.0.0.1", port: node.port, timeoutSeconds: 30)
        defer { client.close() }
        let upload = try client.send(
            method: "POST", path: "/v1/campaigns/\(campaign)/bulk-grants",
            headers: [("Authorization", "Bearer \(node.keys[.admin]!)"), ("Content-Type", "text/plain")], body: Array("b1\nb2\nb3".utf8))
        #expect(upload.status == 202)

        // 33 granted + 19 redeemed + 8 restored + 1 job.finished = 61 events, all delivered.
        let postgres = try node.postgres()
        func outbox() throws -> (total: Int64, undelivered: Int64) {
            let row = try postgres.execute("SELECT count(*), count(*) FILTER (WHERE delivered_at IS NULL) FROM webhook_outbox").first!
            return (try row.int64(0), try row.int64(1))
        }
        let started = Date()
        while Date().timeIntervalSince(started) < 60 {
            let state = try outbox()
            if state.total >= 61 && state.undelivered == 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let (total, undelivered) = try outbox()
        let log = receiver.log.withLock { $0 }
        let delivered = log.filter { $0.status == 200 }
        print("[webhooks] \(total) events, \(log.count) POSTs received, \(log.filter { $0.status == 500 }.count) answered 500, \(Date().timeIntervalSince(started)) s to drain")
        #expect(total == 61)
        #expect(undelivered == 0)
        let ids = try postgres.execute("SELECT id FROM webhook_outbox ORDER BY id").map { try $0.int64(0) }
        #expect(Set(delivered.map(\.delivery)) == Set(ids))
        #expect(log.filter { !$0.signatureValid }.isEmpty)
        #expect(log.filter { $0.status == 500 }.count > 0)
        let retried = try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE attempts > 1").first!.int64(0)
        #expect(retried > 0)
        let byEvent = Dictionary(grouping: Set(delivered.map(\.delivery)).compactMap { id in delivered.first { $0.delivery == id } }, by: \.event)
            .mapValues(\.count)
        #expect(byEvent == ["coupon.granted": 33, "coupon.redeemed": 19, "coupon.restored": 8, "job.finished": 1])

        // Per coupon: successful deliveries follow the ledger (ledger_id increasing, first receipt of each).
        var seen: Set<Int64> = []
        var sequence: [String: [Int64]] = [:]
        for entry in delivered where seen.insert(entry.delivery).inserted {
            guard let code = entry.body["code"]?.stringValue, let ledger = entry.body["ledger_id"]?.int64Value else { continue }
            sequence[code, default: []].append(ledger)
        }
        #expect(sequence.values.allSatisfy { $0 == $0.sorted() })
        #expect(sequence[codes[0]]?.count == 4)  // granted, redeemed, restored, redeemed
        let events = delivered.filter { $0.body["code"]?.stringValue == codes[0] }.map(\.event)
        #expect(events.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } } == ["coupon.granted", "coupon.redeemed", "coupon.restored", "coupon.redeemed"])
    }

    /// `coupon.expiring` once per usable coupon ending within N days; `coupon.expired` from the
    /// ledger when a coupon past its validity is touched.
    @Test func expiringAndExpiredEvents() throws {
        let receiver = try Receiver()
        try receiver.start()
        defer { receiver.stop() }
        let node = try TestNode.start(configure: { $0.webhookMaxBackoffMs = 400; $0.webhookExpiringScanSeconds = 0.3 })
        defer { node.stop() }
        let created = try node.request(
            "POST", "/v1/webhooks", as: .admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","events":["coupon.expiring","coupon.expired"],"expiring_within_days":3}"#)
        #expect(created.status == 201)
        receiver.secret.withLock { $0 = (try? JSONParser.parse(created.body))?["secret"]?.stringValue ?? "" }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1, extra: #","validity":{"type":"relative","days":2}"#)
        let far = try node.createCampaign(stock: 10, perUserLimit: 1, extra: #","validity":{"type":"relative","days":30}"#)
        var codes: [String] = []
        for user in 0..<4 { codes.append(TestNode.code(of: try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)")) ?? "") }
        _ = try node.claim(campaignId: far, userId: "u9", requestId: "r9")
        #expect(try node.waitForFlush(campaignId: campaign, expected: 4))
        #expect(try node.waitForFlush(campaignId: far, expected: 1))
        let postgres = try node.postgres()
        try postgres.execute("UPDATE coupons SET valid_until = now() - interval '1 second' WHERE code = $1", [codes[3]])
        let late = try node.request(
            "POST", "/v1/coupons/\(codes[3])/redeem", as: .checkout, body: #"{"user_id":"u3","order_id":"o","order_amount":30000,"shipping_fee":0}"#)
        #expect(late.status == 409)
        let started = Date()
        func delivered() -> [Received] {
            var seen: Set<Int64> = []
            return receiver.log.withLock { $0 }.filter { $0.status == 200 && seen.insert($0.delivery).inserted }
        }
        while Date().timeIntervalSince(started) < 30 {
            let pending = try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL").first!.int64(0)
            if delivered().count >= 4 && pending == 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 1)  // more scans: still one row per coupon
        let events = delivered()
        let expiring = Set(events.filter { $0.event == "coupon.expiring" }.compactMap { $0.body["code"]?.stringValue })
        #expect(expiring == Set(codes.prefix(3)))
        #expect(events.filter { $0.event == "coupon.expiring" }.count == 3)
        #expect(events.filter { $0.event == "coupon.expired" }.compactMap { $0.body["code"]?.stringValue } == [codes[3]])
        #expect(events.filter { !$0.signatureValid }.isEmpty)
        #expect(try postgres.execute("SELECT count(*) FROM webhook_outbox").first!.int64(0) == 4)
    }

    @Test func hmacMatchesRFC4231() {
        // RFC 4231 test case 2.
        #expect(
            HMACSHA256.hex(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block.
        #expect(
            HMACSHA256.hex(key: [UInt8](repeating: 0xaa, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let body = Array(#"{"a":1}"#.utf8)
        let header = WebhookSignature.signature(secret: "s", timestamp: 10, body: body)
        #expect(WebhookSignature.verify(header: header, secret: "s", timestamp: 10, body: body))
        #expect(!WebhookSignature.verify(header: header, secret: "s", timestamp: 11, body: body))
    }
}
