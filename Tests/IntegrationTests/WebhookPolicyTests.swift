import CouponCore
import Foundation
import Glibc
import HTTPServer
import PostgresClient
import ServiceTestSupport
import Synchronization
import Testing
import Webhooks

/// Webhook delivery policy with real servers (issue 12): a hanging endpoint does not hold back
/// another subscription; dead deliveries stop retrying, no longer block their coupon's later
/// events, are listed and re-queued by the admin API; delivered rows go after the retention.
@Suite(.serialized) struct WebhookPolicyTests {
    typealias Receiver = WebhookDeliveryTests.Receiver

    /// Accepts connections and never answers; counts them.
    final class HangingReceiver: @unchecked Sendable {  // `fd` is set once before the thread starts
        let accepted = Atomic<Int>(0)
        let held = Mutex<[Int32]>([])
        private(set) var fd: Int32 = -1
        private(set) var port = 0

        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound, listen(fd, 128) == 0 else { throw HTTPClientError.connectionClosed }
            port = Int(UInt16(bigEndian: address.sin_port))
            let listener = fd
            Thread { [self] in
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { return }
                    held.withLock { $0.append(client) }
                    accepted.add(1, ordering: .relaxed)
                }
            }.start()
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
            for client in held.withLock({ $0 }) { close(client) }
        }
    }

    static func subscribe(_ node: TestNode, port: Int, events: String) throws -> (id: Int64, secret: String) {
        let created = try node.request(
            "POST", "/v1/webhooks", as: .admin, body: #"{"url":"http://127.0.0.1:\#(port)/hook","events":[\#(events)]}"#)
        #expect(created.status == 201, "\(created.bodyString)")
        let body = try JSONParser.parse(created.body)
        return (body["id"]?.int64Value ?? 0, body["secret"]?.stringValue ?? "")
    }

    static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let started = Date()
        while Date().timeIntervalSince(started) < seconds {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    /// Sequential delivery sent rows in id order, so each grant's row for the hanging endpoint
    /// (timeout 5 s) stood before the healthy one's: 20 grants took 100 s to reach it. Now the
    /// healthy receiver has all 20 within the first hanging POST's timeout, and the hanging
    /// endpoint never holds more than `webhook-concurrency - 1` POSTs.
    @Test func aHangingEndpointDoesNotHoldBackAnother() throws {
        let hanging = try HangingReceiver()
        defer { hanging.stop() }
        let receiver = try Receiver.started(.accept)
        defer { receiver.stop() }
        let node = try TestNode.start(configure: { $0.webhookTimeoutMs = 5_000; $0.webhookConcurrency = 4 })
        defer { node.stop() }
        _ = try Self.subscribe(node, port: hanging.port, events: #""coupon.granted""#)
        let healthy = try Self.subscribe(node, port: receiver.port, events: #""coupon.granted""#)
        receiver.secret.withLock { $0 = healthy.secret }
        let campaign = try node.createCampaign(stock: 50, perUserLimit: 1)
        for user in 0..<20 { _ = try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)") }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 20))
        let flushed = Date()
        let arrived = Self.waitUntil(seconds: 4.5) { Set(receiver.log.withLock { $0 }.map(\.delivery)).count >= 20 }
        let elapsed = Date().timeIntervalSince(flushed)
        print("[webhooks] healthy receiver got 20 deliveries \(elapsed) s after the flush; hanging endpoint accepted \(hanging.accepted.load(ordering: .relaxed))")
        #expect(arrived)
        #expect(receiver.log.withLock { $0 }.allSatisfy { $0.signatureValid && $0.event == "coupon.granted" })
        #expect(hanging.accepted.load(ordering: .relaxed) >= 1)
        #expect(hanging.accepted.load(ordering: .relaxed) <= 3)  // concurrency 4: at most 3 to one endpoint, none retried yet
        let postgres = try node.postgres()
        let pendingForHanging = try postgres.execute(
            "SELECT count(*) FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id WHERE s.id <> $1 AND o.delivered_at IS NULL",
            [healthy.id]
        ).first!.int64(0)
        #expect(pendingForHanging == 20)
    }

    /// A busy endpoint is served over kept-alive connections: 40 deliveries arrive and the
    /// receiver still holds between 1 and `webhook-concurrency` (4) open connections from the
    /// node — a connection per POST would leave none open.
    @Test func aBusyEndpointIsServedOverKeptAliveConnections() throws {
        let receiver = try Receiver.started(.accept)
        defer { receiver.stop() }
        let node = try TestNode.start(configure: { $0.webhookConcurrency = 4 })
        defer { node.stop() }
        let subscription = try Self.subscribe(node, port: receiver.port, events: #""coupon.granted""#)
        receiver.secret.withLock { $0 = subscription.secret }
        let campaign = try node.createCampaign(stock: 50, perUserLimit: 1)
        for user in 0..<40 { _ = try node.claim(campaignId: campaign, userId: "k\(user)", requestId: "k\(user)") }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 40))
        let arrived = Self.waitUntil(seconds: 10) { Set(receiver.log.withLock { $0 }.map(\.delivery)).count >= 40 }
        #expect(arrived)
        #expect(receiver.log.withLock { $0 }.allSatisfy { $0.signatureValid })
        let open = try #require(receiver.server).connectionCount
        #expect((1...4).contains(open), "open connections from the node: \(open)")
    }

    /// A receiver that always answers 500: each row is dead after 3 attempts, the coupon's later
    /// `coupon.redeemed` is not blocked by its dead `coupon.granted` (it goes its own way to
    /// dead); the admin API lists them and re-queues some, then all, and they are delivered.
    @Test func deadDeliveriesStopBlockingAndCanBeRetried() throws {
        let receiver = try Receiver.started(.fail)
        defer { receiver.stop() }
        let node = try TestNode.start(configure: { $0.webhookMaxBackoffMs = 100; $0.webhookMaxAttempts = 3 })
        defer { node.stop() }
        let subscription = try Self.subscribe(node, port: receiver.port, events: #""coupon.granted","coupon.redeemed""#)
        receiver.secret.withLock { $0 = subscription.secret }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let codes = try (0..<2).map { TestNode.code(of: try node.claim(campaignId: campaign, userId: "u\($0)", requestId: "r\($0)")) ?? "" }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 2))
        let redeemed = try node.request(
            "POST", "/v1/coupons/\(codes[0])/redeem", as: .checkout, body: #"{"user_id":"u0","order_id":"o0","order_amount":30000,"shipping_fee":0}"#)
        #expect(redeemed.status == 200)
        let postgres = try node.postgres()
        func dead() throws -> Int64 { try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE dead_at IS NOT NULL").first!.int64(0) }
        #expect(try Self.waitUntil(seconds: 20) { try dead() == 3 })
        Thread.sleep(forTimeInterval: 0.5)  // dead rows are not retried
        let posts = receiver.log.withLock { $0 }
        #expect(posts.count == 9)
        #expect(Dictionary(grouping: posts, by: \.delivery).values.allSatisfy { $0.count == 3 })
        #expect(posts.filter { $0.event == "coupon.redeemed" }.count == 3)  // not held back by the dead granted row

        let listed = try JSONParser.parse(node.request("GET", "/v1/webhooks", as: .admin).body)
        #expect(listed["subscriptions"]?.arrayValue?.first?["deliveries"] == .object(["pending": .int(0), "dead": .int(3), "delivered": .int(0)]))
        let page = try node.request("GET", "/v1/webhooks/\(subscription.id)/dead?limit=2", as: .admin)
        #expect(page.status == 200)
        let first = try JSONParser.parse(page.body)
        let rows = first["deliveries"]?.arrayValue ?? []
        #expect(rows.count == 2)
        #expect(rows.first?["attempts"]?.int64Value == 3)
        #expect(rows.first?["last_error"]?.stringValue == "HTTP 500 (after 3 attempts)")
        #expect(rows.first?["payload"]?["event"]?.stringValue == "coupon.granted")
        let nextAfter = first["next_after_id"]?.int64Value ?? 0
        let rest = try JSONParser.parse(node.request("GET", "/v1/webhooks/\(subscription.id)/dead?after_id=\(nextAfter)", as: .admin).body)
        #expect(rest["deliveries"]?.arrayValue?.count == 1)
        #expect(rest["next_after_id"] == .null)
        // Bad input: 400 or 404, nothing re-queued.
        #expect(try node.request("GET", "/v1/webhooks/\(subscription.id)/dead?limit=0", as: .admin).status == 400)
        #expect(try node.request("GET", "/v1/webhooks/999/dead", as: .admin).status == 404)
        #expect(try node.request("POST", "/v1/webhooks/\(subscription.id)/dead/retry", as: .admin, body: #"{"ids":["x"]}"#).status == 400)
        #expect(try node.request("POST", "/v1/webhooks/\(subscription.id)/dead/retry", as: .admin, body: #"{"all":true}"#).status == 400)
        #expect(try node.request("POST", "/v1/webhooks/999/dead/retry", as: .admin).status == 404)
        #expect(try node.request("POST", "/v1/webhooks/\(subscription.id)/dead/retry", as: .checkout).status == 403)
        #expect(try dead() == 3)

        receiver.mode.withLock { $0 = .accept }
        let one = rows.first?["id"]?.int64Value ?? 0
        let retried = try node.request("POST", "/v1/webhooks/\(subscription.id)/dead/retry", as: .admin, body: #"{"ids":[\#(one)]}"#)
        #expect(retried.status == 200)
        #expect(try JSONParser.parse(retried.body)["requeued"]?.int64Value == 1)
        func delivered() throws -> Int64 { try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NOT NULL").first!.int64(0) }
        #expect(try Self.waitUntil(seconds: 10) { try delivered() == 1 })
        #expect(try dead() == 2)
        let all = try node.request("POST", "/v1/webhooks/\(subscription.id)/dead/retry", as: .admin)
        #expect(try JSONParser.parse(all.body)["requeued"]?.int64Value == 2)
        #expect(try Self.waitUntil(seconds: 10) { try delivered() == 3 })
        #expect(try dead() == 0)
        let accepted = receiver.log.withLock { $0 }.filter { $0.status == 200 }
        #expect(Set(accepted.map(\.delivery)).count == 3)
        #expect(accepted.allSatisfy { $0.signatureValid })
    }

    /// Rows queued longer than `webhook-max-age-seconds` are dead even when an endpoint that
    /// only ever times out gets one probe at a time and never reaches them.
    @Test func tooOldRowsAreDead() throws {
        let hanging = try HangingReceiver()
        defer { hanging.stop() }
        let node = try TestNode.start(configure: {
            $0.webhookTimeoutMs = 10_000; $0.webhookConcurrency = 2; $0.webhookMaxAgeSeconds = 1; $0.webhookSweepSeconds = 0.2
        })
        defer { node.stop() }
        _ = try Self.subscribe(node, port: hanging.port, events: #""coupon.granted""#)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        for user in 0..<5 { _ = try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)") }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 5))
        let postgres = try node.postgres()
        // The one row in flight (its POST hangs for 10 s) is not swept; the four waiting are.
        #expect(try Self.waitUntil(seconds: 8) {
            try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE dead_at IS NOT NULL").first!.int64(0) == 4
        })
        #expect(hanging.accepted.load(ordering: .relaxed) == 1)
        #expect(try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE dead_at IS NOT NULL AND last_error LIKE '%(too old)'").first!.int64(0) == 4)
    }

    /// Delivered rows older than the retention are deleted; a delivered `coupon.expiring` row
    /// stays while its coupon is valid, so later scans still send it once per coupon.
    @Test func deliveredRowsGoAfterTheRetention() throws {
        let receiver = try Receiver.started(.accept)
        defer { receiver.stop() }
        let node = try TestNode.start(configure: {
            $0.webhookRetentionSeconds = 0.5; $0.webhookSweepSeconds = 0.2; $0.webhookExpiringScanSeconds = 0.2
        })
        defer { node.stop() }
        let subscription = try node.request(
            "POST", "/v1/webhooks", as: .admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","events":["coupon.granted","coupon.expiring"],"expiring_within_days":3}"#)
        #expect(subscription.status == 201)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1, extra: #","validity":{"type":"relative","days":2}"#)
        for user in 0..<3 { _ = try node.claim(campaignId: campaign, userId: "u\(user)", requestId: "r\(user)") }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 3))
        #expect(Self.waitUntil(seconds: 10) { Set(receiver.log.withLock { $0 }.map(\.delivery)).count == 6 })
        let postgres = try node.postgres()
        func rows(_ event: String) throws -> Int64 {
            try postgres.execute("SELECT count(*) FROM webhook_outbox WHERE event = $1", [event]).first!.int64(0)
        }
        #expect(try Self.waitUntil(seconds: 10) { try rows("coupon.granted") == 0 })
        Thread.sleep(forTimeInterval: 1)  // more scans and sweeps
        #expect(try rows("coupon.expiring") == 3)
        let log = receiver.log.withLock { $0 }
        #expect(log.filter { $0.event == "coupon.expiring" }.count == 3)
        #expect(log.filter { $0.event == "coupon.granted" }.count == 3)
    }
}
