import CouponCore
import Issuance
import GrantFlusher
import PostgresClient
import RedisClient

/// A campaign's live statistics: Redis counters (stock, remaining, issued, exact claim
/// outcomes), the stream backlog, and the ledger in PostgreSQL. Amounts in minor units of
/// `currency`; ratios as fixed 4-decimal strings.
public struct CampaignStats: Sendable, Equatable {
    public static let outcomes = ["granted", "sold_out", "limit_reached", "not_started", "ended", "paused", "not_eligible", "validity_ended", "daily_limit_reached", "weekly_limit_reached", "daily_sold_out"]

    public let campaignId: Int64
    public let currency: String
    /// Redis `stock_total` (PostgreSQL's when Redis does not know the campaign).
    public let stock: Int64
    public let remaining: Int64?
    public let issued: Int64?
    /// Coupon rows in PostgreSQL.
    public let flushed: Int64
    /// Backlog entries whose code has no row yet.
    public let notYetFlushed: Int64
    /// Entries the flushers have not acked (GrantStreamState: undelivered + pending).
    public let streamBacklog: Int64
    public let streamPending: Int64
    /// Coupons whose latest ledger event is `redeemed` (net of restores).
    public let redeemed: Int64
    /// `restored` events.
    public let restored: Int64
    /// Coupons whose latest ledger event is `expired`.
    public let expired: Int64
    /// Coupons whose latest ledger event is `revoked`.
    public let revoked: Int64
    /// Coupons still usable or locked (latest event issued, locked, released or restored).
    public let outstanding: Int64
    public let outstandingFaceValue: Int64
    /// Discount of redeemed events minus the discount handed back by restores.
    public let discount: Int64
    /// Order amounts of redeeming orders minus those of orders whose coupon was restored.
    public let orderRevenue: Int64
    /// Claim decisions by outcome, from the Redis counters `out:<outcome>`.
    public let claims: [(outcome: String, count: Int64)]
    /// An exchange campaign's points (issue 11); nil for other campaigns.
    public var points: ExchangePointsStats?
    /// Issued, redeemed, rate, discount and ROI by the channel coupons were granted through (issue 12).
    public var byChannel: [ChannelFigures] = []

    /// `redeemed / flushed`.
    public var redemptionRate: String? { Ratio.format(redeemed, flushed) }
    /// `order_revenue / discount`; nil when the discount is 0.
    public var roi: String? { Ratio.format(orderRevenue, discount) }

    public static func == (a: CampaignStats, b: CampaignStats) -> Bool { a.json() == b.json() }


    /// Nil when PostgreSQL has no such campaign.
    public static func read(campaignId: Int64, postgres: PostgresConnection, redis: BlockingRedisConnection) throws -> CampaignStats? {
        guard try FinanceStore.campaignExists(campaignId, on: postgres) else { return nil }
        let snapshot = try RedisSnapshot.read(campaignId: campaignId, on: redis)
        let backlog = try ConservationChecks.backlog(snapshot, on: postgres)
        // A sharded campaign (issue 10) is one campaign here: streams and counters summed over its shards.
        var streamBacklog = 0, streamPending = 0
        var counters = [Int64](repeating: 0, count: outcomes.count)
        for keys in CampaignShards.keys(campaignId: campaignId, count: snapshot.shards) {
            if let stream = try GrantStreamState.read(redis, stream: keys.grants) {
                streamBacklog += stream.unflushed
                streamPending += stream.pending
            }
            let values = try redis.command(["HMGET", .string(keys.meta)] + outcomes.map { .string(CampaignMeta.outcomeCounter($0)) }).array ?? []
            for index in counters.indices where values.indices.contains(index) { counters[index] += values[index].string.flatMap(Int64.init) ?? 0 }
        }
        let ledger = try FinanceStore.ledgerTotals(campaignId: campaignId, on: postgres)
        var stats = CampaignStats(
            campaignId: campaignId, currency: ledger.currency, stock: snapshot.stockTotal ?? ledger.stockTotal,
            remaining: snapshot.remaining, issued: snapshot.issued, flushed: ledger.rows,
            notYetFlushed: Int64(backlog.unflushed.count), streamBacklog: Int64(streamBacklog),
            streamPending: Int64(streamPending), redeemed: ledger.redeemed, restored: ledger.restored,
            expired: ledger.expired, revoked: ledger.revoked, outstanding: ledger.outstanding,
            outstandingFaceValue: ledger.outstandingFaceValue, discount: ledger.discount, orderRevenue: ledger.orderRevenue,
            claims: outcomes.enumerated().map { index, outcome in (outcome, counters[index]) })
        stats.points = try FinanceStore.exchangePointsStats(campaignId: campaignId, on: postgres)
        stats.byChannel = try ChannelFigures.campaign(campaignId, on: postgres)
        return stats
    }

    public func json() -> [UInt8] {
        JSONWriter.object { object in
            object.field("campaign_id", campaignId)
            object.field("currency", currency)
            object.field("stock", stock)
            if let remaining { object.field("remaining", remaining) } else { object.nullField("remaining") }
            if let issued { object.field("issued", issued) } else { object.nullField("issued") }
            object.field("flushed", flushed)
            object.field("not_yet_flushed", notYetFlushed)
            object.field("stream_backlog", streamBacklog)
            object.field("stream_pending", streamPending)
            object.field("redeemed", redeemed)
            object.field("restored", restored)
            object.field("expired", expired)
            object.field("revoked", revoked)
            object.field("outstanding", outstanding)
            object.field("outstanding_face_value", outstandingFaceValue)
            if let redemptionRate { object.field("redemption_rate", redemptionRate) } else { object.nullField("redemption_rate") }
            object.field("discount", discount)
            object.field("order_revenue", orderRevenue)
            if let roi { object.field("roi", roi) } else { object.nullField("roi") }
            object.objectField("claims") { claims in
                for (outcome, count) in self.claims { claims.field(outcome, count) }
            }
            if let points { object.objectField("points") { points.write(into: &$0) } }
            object.arrayField("by_channel") { list in
                for figures in byChannel { list.objectElement { figures.write(into: &$0) } }
            }
        }
    }
}
