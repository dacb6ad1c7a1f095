import RedisClient

/// The Redis key layout of points accounts (README "Points"). Users are spread over
/// `bucketCount` hash tags `{p:B}`: a user's account, the bucket's event stream, its due-expiry
/// index, its exchange reservations and their pending set share one cluster slot, so every
/// points script touches a single slot; the flusher reads a fixed set of `bucketCount` streams.
public struct PointsKeys: Sendable, Equatable {
    public static let bucketCount = 32
    /// The flushers' consumer group on every points stream.
    public static let flusherGroup = "points"

    public let bucket: Int
    public let tag: String

    public init(bucket: Int) {
        self.bucket = bucket
        tag = "{p:\(bucket)}"
    }

    public init(userId: String) {
        self.init(bucket: Self.bucket(of: userId))
    }

    /// A stable bucket for a user id (CRC16, as cluster slots are, modulo the bucket count).
    public static func bucket(of userId: String) -> Int {
        Int(RedisClusterSlot.crc16(Array(userId.utf8))) % bucketCount
    }

    public static var all: [PointsKeys] { (0..<bucketCount).map(PointsKeys.init(bucket:)) }

    /// Hash: `bal` (balance), `seq` (last event number), `l:<expiry ms | never>` → points of that lot.
    public func account(_ userId: String) -> String { "pt:\(tag):a:\(userId)" }
    /// Sorted set: user id → the earliest expiry among the user's lots (the expiry sweep's index).
    public var due: String { "pt:\(tag):due" }
    /// Stream: one entry per ledger event of the bucket's users, read by the points flusher.
    public var events: String { "pt:\(tag):events" }
    /// String with TTL: the stored answer of one earn/adjust idempotency key.
    public func idempotency(_ userId: String, _ key: String) -> String { "pt:\(tag):k:\(userId)|\(key)" }
    /// Hash: one exchange's reservation of points (state, cost, lots taken, campaign, request).
    public func reservation(_ exchangeId: String) -> String { "pt:\(tag):x:\(exchangeId)" }
    /// String: marks that the exchange coupon of `campaign|request` was refunded on revoke.
    public func revokeRefund(campaignId: Int64, requestId: String) -> String { "pt:\(tag):rr:\(campaignId)|\(requestId)" }
    /// String: set once the bucket's accounts are known complete (at first start, or rebuilt
    /// from `points_ledger` after Redis lost data; `PointsRebuild`). Every points script
    /// declares it as its last key and refuses (`rebuilding`) while it is missing.
    public var ready: String { "pt:\(tag):ready" }
    /// Sorted set: exchange id → reservation time, while its reservation is unresolved.
    public var pending: String { "pt:\(tag):pending" }
}
