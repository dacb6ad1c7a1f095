import Synchronization
import RedisClient

/// The stock shards of a hot campaign (issue 10 §1, ARCHITECTURE §13). A campaign created with
/// `shards: K` keeps its stock in K keyspaces, each a complete campaign layout (`CampaignKeys`:
/// meta, stock, per-user counts, request buckets, grant stream) under its own hash tag:
///
/// - shard 0 uses today's tag `{c:ID}`, so `shards: 1` is exactly the unsharded layout;
/// - shard s ≥ 1 uses `{c:ID.s<s>.<n>}`, with `n` the smallest number ≥ 0 whose tag's slot
///   lies in the window of `windowWidth(K)` slots centred on `slot(shard 0) + s·16384/K`
///   (mod 16384). On a cluster whose masters own equal contiguous ranges, the K slots are
///   then about 1/K of the slot space apart, so K ≤ masters shards land on K masters (unless
///   shard 0 sits within half a window of a range boundary).
///
/// A user belongs to one home shard, `homeShard(userId:count:)` (FNV-1a 64 of the id's UTF-8,
/// mod K), which holds the user's count: a claim runs the unchanged claim rules on that
/// shard, so the per-user limit stays exact within one script. Stock moves between shards
/// only by `StockTransfer`.
public enum CampaignShards {
    /// Shards a campaign may have: 1 (unsharded) … `maxCount`.
    public static let range = 1...16
    public static var maxCount: Int { range.upperBound }

    /// Width of the slot window each shard s ≥ 1 is searched in: 1/8 of a shard's share of the slots.
    public static func windowWidth(count: Int) -> Int { max(1, RedisClusterSlot.count / (8 * count)) }

    /// The hash tag of `shard` (0..<count) of campaign `campaignId`. Pure and deterministic:
    /// every node computes the same tags.
    public static func tag(campaignId: Int64, shard: Int, count: Int) -> String {
        precondition(shard >= 0 && shard < max(1, count))
        let base = "{c:\(campaignId)}"
        guard shard > 0 else { return base }
        let slots = RedisClusterSlot.count
        let home = RedisClusterSlot.slot(forKey: base)
        let width = windowWidth(count: count)
        let centre = home + shard * slots / count
        let low = centre - width / 2
        var n = 0
        while true {
            let tag = "{c:\(campaignId).s\(shard).\(n)}"
            let offset = ((RedisClusterSlot.slot(forKey: tag) - low) % slots + slots) % slots
            if offset < width { return tag }
            n += 1  // expected ≈ 16384 / width = 8K tries; every slot is reachable, so this ends
        }
    }

    /// The key layouts of every shard, shard 0 first.
    public static func keys(campaignId: Int64, count: Int) -> [CampaignKeys] {
        (0..<max(1, count)).map { CampaignKeys(campaignId: campaignId, shard: $0, count: count) }
    }

    /// The user's home shard: FNV-1a 64 of the user id's UTF-8 bytes, mod `count`.
    public static func homeShard(userId: String, count: Int) -> Int {
        guard count > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in userId.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }

    /// Splits a campaign's stock over its shards: shard s gets `total / K` plus one of the
    /// first `total % K` remainders. `issued` (what PostgreSQL already holds, used only when Redis
    /// has never seen the campaign) is split the same way, capped by each shard's allocation.
    public static func allocation(total: Int64, issued: Int64, count: Int) -> [(total: Int64, issued: Int64)] {
        let k = Int64(max(1, count))
        let totals = (0..<k).map { total / k + ($0 < total % k ? 1 : 0) }
        var left = max(0, issued)
        var result: [(total: Int64, issued: Int64)] = []
        for (index, share) in totals.enumerated() {
            let spread = issued / k + (Int64(index) < issued % k ? 1 : 0)
            let taken = min(share, max(0, min(spread, left)))
            left -= taken
            result.append((share, taken))
        }
        // What did not fit in a shard's share (more coupons than its share) goes where there is room.
        for index in result.indices where left > 0 {
            let room = result[index].total - result[index].issued
            let taken = min(room, left)
            result[index].issued += taken
            left -= taken
        }
        return result
    }

    /// Set of the ids of campaigns with more than one shard (the transfer recovery sweep's list).
    public static let registry = "cp:sharded"

    /// The shard count Redis holds for a campaign (meta `shards` of shard 0; absent = 1).
    public static func count(campaignId: Int64, on redis: BlockingRedisConnection) throws -> Int {
        try counts(campaignIds: [campaignId], on: redis)[campaignId] ?? 1
    }

    /// Shard counts of the campaigns Redis has published (shard 0 meta has a `state`), one
    /// pipeline; campaigns it does not know are left out.
    public static func counts(campaignIds: [Int64], on redis: BlockingRedisConnection) throws -> [Int64: Int] {
        guard !campaignIds.isEmpty else { return [:] }
        let replies = try redis.pipeline(
            campaignIds.map { ["HMGET", .string(CampaignKeys(campaignId: $0).meta), .string(CampaignMeta.state), .string(CampaignMeta.shards)] })
        var result: [Int64: Int] = [:]
        for (id, reply) in zip(campaignIds, replies) {
            let fields = try reply.get().array ?? []
            guard fields.count == 2, fields[0].string != nil else { continue }
            result[id] = fields[1].string.flatMap(Int.init).map { min(max($0, 1), maxCount) } ?? 1
        }
        return result
    }
}

/// A node's sharded-campaign counters, shared by its engines (issue 10): transfers completed,
/// units they moved, and claims answered `sold_out` after the last rebalance attempt while
/// the last plan still saw stock elsewhere or in transit.
public final class ShardCounters: Sendable {
    public let transfers = Atomic<Int>(0)
    public let unitsMoved = Atomic<Int>(0)
    public let refusedWithStockElsewhere = Atomic<Int>(0)

    public init() {}
}
