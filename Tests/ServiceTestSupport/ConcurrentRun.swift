import CouponCore
import Foundation
import HTTPServer
import Issuance
import RedisClient
import TestSupport

/// Runs a body on many real threads at once (blocking clients need threads, not tasks:
/// the cooperative pool has only as many threads as cores).
public enum ConcurrentRun {
    /// Starts `threads` threads, releases them together, and waits for all of them at most
    /// `timeoutSeconds`; returns false if some thread was still running then.
    public static func run(threads: Int, timeoutSeconds: Double = 120, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        for index in 0..<threads {
            group.enter()
            let thread = Thread {
                gate.wait()
                body(index)
                group.leave()
            }
            thread.name = "test-client-\(index)"
            thread.start()
        }
        for _ in 0..<threads { gate.signal() }
        return group.wait(timeout: .now() + timeoutSeconds) == .success
    }
}

/// A value shared between test threads, guarded by a lock.
public final class Locked<Value>: @unchecked Sendable {  // every access goes through `lock`
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public var current: Value { withLock { $0 } }
}

/// What a claim answered, reduced to what the tests compare.
public struct ClaimOutcome: Sendable, Equatable {
    public var status: Int
    /// The coupon code of a 201, or the error code of a 4xx/5xx.
    public var code: String?
    public var userId: String
    public var latencySeconds: Double
    public var retryAfter: String?
    public var body: [UInt8]

    public init(status: Int, code: String?, userId: String, latencySeconds: Double, retryAfter: String?, body: [UInt8]) {
        self.status = status
        self.code = code
        self.userId = userId
        self.latencySeconds = latencySeconds
        self.retryAfter = retryAfter
        self.body = body
    }
}

extension TestNode {
    /// One claim on `client`, timed; a 201's `code` is the coupon code, an error's the error code.
    public func timedClaim(campaignId: Int64, userId: String, requestId: String, on client: BlockingHTTPClient) throws -> ClaimOutcome {
        let started = Date()
        let response = try claim(campaignId: campaignId, userId: userId, requestId: requestId, on: client)
        let latency = Date().timeIntervalSince(started)
        return ClaimOutcome(
            status: response.status, code: Self.code(of: response), userId: userId, latencySeconds: latency,
            retryAfter: response.headers["retry-after"], body: response.body)
    }

    /// The coupon code of a 201, or `error.code` of an error answer.
    public static func code(of response: HTTPClientResponse) -> String? {
        guard let json = try? JSONParser.parse(response.body) else { return nil }
        if response.status == 201 { return json["code"]?.stringValue }
        return json["error"]?["code"]?.stringValue
    }

    // MARK: Redis state of a campaign

    public func keys(_ campaignId: Int64) -> CampaignKeys { CampaignKeys(campaignId: campaignId) }

    /// `GET cp:{c:ID}:stock` as an integer (nil when missing).
    public func redisStock(_ campaignId: Int64) throws -> Int64? {
        try redisClient().command(["GET", .string(keys(campaignId).stock)]).string.flatMap(Int64.init)
    }

    /// One field of the campaign's meta hash.
    public func redisMeta(_ campaignId: Int64, _ field: String) throws -> String? {
        try redisClient().command(["HGET", .string(keys(campaignId).meta), .string(field)]).string
    }

    /// XLEN of the campaign's grant stream.
    public func streamLength(_ campaignId: Int64) throws -> Int64 {
        try redisClient().command(["XLEN", .string(keys(campaignId).grants)]).int ?? -1
    }

    /// How many entries of the grant stream are pending in group `flushers` (XPENDING).
    public func pendingCount(_ campaignId: Int64) throws -> Int64 {
        let reply = try redisClient().command(["XPENDING", .string(keys(campaignId).grants), .string(CampaignKeys.flusherGroup)])
        return reply.array?.first?.int ?? -1
    }

    /// Units claimed per user, from the campaign's users hash.
    public func redisUserCounts(_ campaignId: Int64) throws -> [String: Int] {
        let items = try redisClient().command(["HGETALL", .string(keys(campaignId).users)]).array ?? []
        var counts: [String: Int] = [:]
        var index = 0
        while index + 1 < items.count {
            if let user = items[index].string, let count = items[index + 1].string.flatMap(Int.init) { counts[user] = count }
            index += 2
        }
        return counts
    }

    // MARK: PostgreSQL state of a campaign

    /// Coupon codes of the campaign in PostgreSQL, with their users.
    public func storedCoupons(_ campaignId: Int64) throws -> [(code: String, user: String)] {
        try postgres().execute("SELECT code, user_id FROM coupons WHERE campaign_id = $1", [campaignId]).map {
            (try $0.string(0), try $0.string(1))
        }
    }

    /// `issued` events of the campaign in PostgreSQL.
    public func issuedEventCount(_ campaignId: Int64) throws -> Int {
        try postgres().execute(
            "SELECT count(*) FROM coupon_events WHERE campaign_id = $1 AND event = 'issued'", [campaignId]
        ).first!.int(0)
    }
}
