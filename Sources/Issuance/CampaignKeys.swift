/// The Redis key layout of one campaign (ARCHITECTURE §3). Every key shares the hash tag
/// `{c:<id>}`, so the claim script touches a single Redis Cluster slot. A sharded campaign
/// (issue 10) has one such layout per shard, under the shard's tag (`CampaignShards.tag`).
public struct CampaignKeys: Sendable, Equatable {
    public let campaignId: Int64
    public let tag: String
    /// The stock shard these keys belong to (0 for an unsharded campaign).
    public let shard: Int

    public init(campaignId: Int64) {
        self.campaignId = campaignId
        self.tag = "{c:\(campaignId)}"
        self.shard = 0
    }

    /// The keys of `shard` of a campaign with `count` shards.
    public init(campaignId: Int64, shard: Int, count: Int) {
        self.campaignId = campaignId
        self.tag = CampaignShards.tag(campaignId: campaignId, shard: shard, count: count)
        self.shard = shard
    }

    /// Hash: what the claim script needs (state, window, limit, validity rule, counters).
    public var meta: String { "cp:\(tag):meta" }
    /// Integer: units left.
    public var stock: String { "cp:\(tag):stock" }
    /// Hash: user id → units claimed.
    public var users: String { "cp:\(tag):users" }
    /// Set: the members of the campaign's audience segment (only with meta `aud` = 1; issue 12).
    public var audience: String { "cp:\(tag):aud" }
    /// Period caps (issue 12, `PeriodCapsRules`): the published boundaries (sorted set), the
    /// per-user day and week counters (two hashes each, by period parity), the stock-day counts.
    public var periodDays: String { "cp:\(tag):pdays" }
    public var periodKeys: [String] {
        [periodDays, "cp:\(tag):pud:0", "cp:\(tag):pud:1", "cp:\(tag):puw:0", "cp:\(tag):puw:1", "cp:\(tag):pstock"]
    }
    /// Stream: one entry per grant, read by the flusher.
    public var grants: String { "cp:\(tag):grants" }
    /// Hash per minute of per-second figures for the console (`<second>:<outcome>` counts,
    /// `<second>:remaining`, `<second>:lag_ms`), expiring after `seriesTTLSeconds`.
    public func series(minute: Int64) -> String { "cp:\(tag):series:\(minute)" }
    public static let seriesTTLSeconds = 420
    /// Hash, expiring whole: request id → `user\ngrant record` for the requests granted in one
    /// request window (idempotency; see `ClaimRules`). The claim scripts name these from `meta`.
    public func requestBucket(_ number: Int64) -> String { "cp:\(tag):rq:\(number)" }
    /// The pattern matching every request bucket of the campaign (`SCAN MATCH`).
    public var requestBuckets: String { "cp:\(tag):rq:*" }
    /// Hash: transfer id → `amount|receiver shard|debited at ms` for every transfer this shard
    /// debited and has not completed (`StockTransfer`; its length is the open transfers).
    public var transfersOut: String { "cp:\(tag):xout" }
    /// Hash: transfer id → amount for every transfer credited to this shard (applied once by id).
    public var transfersIn: String { "cp:\(tag):xin" }

    /// Set of campaign ids published to this Redis (not hash-tagged: it spans campaigns).
    public static let registry = "cp:campaigns"
    /// The flushers' consumer group on every grant stream.
    public static let flusherGroup = "flushers"

    /// The campaign id of a grant stream key (any shard's: `cp:{c:ID}:grants`,
    /// `cp:{c:ID.s<s>.<n>}:grants`), or nil.
    public static func campaignId(ofGrantStream key: String) -> Int64? {
        guard key.hasPrefix("cp:{c:"), key.hasSuffix("}:grants") else { return nil }
        let inner = key.dropFirst(6).dropLast(8)
        return Int64(inner.prefix { $0 != "." })
    }
}
