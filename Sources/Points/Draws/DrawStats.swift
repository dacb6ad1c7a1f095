import PostgresClient
import RedisClient

/// A draw's live figures (issue 11, `GET /v1/draws/{id}`): attempts, points consumed, per tier
/// the stock, what is left, the wins and the prize coupons in PostgreSQL, no-prize outcomes and
/// the win rate. Counters from the draw's Redis meta (exact: the draw script writes them).
public struct DrawStats: Sendable, Equatable {
    public struct Tier: Sendable, Equatable {
        public let name: String
        public let stock: Int64
        public let left: Int64
        public let won: Int64
        public let prizeCampaignId: Int64?
        /// Prize coupons of the tier in PostgreSQL.
        public let coupons: Int64
    }

    public let drawId: Int64
    public let attempts: Int64
    public let pointsConsumed: Int64
    public let noPrize: Int64
    public let tiers: [Tier]

    /// Wins / attempts, 4 decimals (half up); nil before the first attempt.
    public var winRate: String? {
        guard attempts > 0 else { return nil }
        let scaled = (attempts - noPrize) * 10_000 * 2 / attempts
        let rounded = (scaled + 1) / 2
        let text = String(rounded % 10_000)
        return "\(rounded / 10_000)." + String(repeating: "0", count: 4 - text.count) + text
    }

    public static func read(_ draw: Draw, redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> DrawStats {
        let keys = DrawKeys(drawId: draw.id)
        let fields: [RedisArgument] = ["attempts"] + (0...draw.table.tiers.count).map { .string("won:\($0)") }
        let replies = try redis.pipeline([["HMGET", .string(keys.meta)] + fields, ["HGETALL", .string(keys.stock)]])
        let counts = try replies[0].get().array?.map { $0.string.flatMap(Int64.init) ?? 0 } ?? []
        let left = RESPValue.fieldMap(try replies[1].get().array ?? [])
        func count(_ index: Int) -> Int64 { counts.indices.contains(index) ? counts[index] : 0 }
        var tiers: [Tier] = []
        for (index, tier) in draw.table.tiers.enumerated() {
            let campaign = index < draw.prizeCampaigns.count && draw.prizeCampaigns[index] > 0 ? draw.prizeCampaigns[index] : nil
            let coupons = try campaign.map { try DrawStore.prizeCoupons(campaignId: $0, on: postgres) } ?? 0
            tiers.append(
                Tier(
                    name: tier.name, stock: tier.stock, left: left[String(index + 1)].flatMap(Int64.init) ?? 0, won: count(index + 2),
                    prizeCampaignId: campaign, coupons: coupons))
        }
        return DrawStats(drawId: draw.id, attempts: count(0), pointsConsumed: count(0) * draw.pointsCost, noPrize: count(1), tiers: tiers)
    }
}
