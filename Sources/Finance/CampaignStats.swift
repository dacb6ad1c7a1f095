import CouponCore
import Issuance
import GrantFlusher
import PostgresClient
import RedisClient

/// A campaign's live statistics: Redis counters (stock, remaining, issued, exact claim
/// outcomes), the stream backlog, and the ledger in PostgreSQL. Amounts in minor units of
/// `currency`; ratios as fixed 4-decimal strings.
public struct CampaignStats: Sendable, Equatable {
    public static let outcomes = ["granted", "sold_out", "limit_reached", "not_started", "ended", "paused", "not_eligible", "validity_ended"]

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

    /// `redeemed / flushed`.
    public var redemptionRate: String? { Ratio.format(redeemed, flushed) }
    /// `order_revenue / discount`; nil when the discount is 0.
    public var roi: String? { Ratio.format(orderRevenue, discount) }

    public static func == (a: CampaignStats, b: CampaignStats) -> Bool { a.json() == b.json() }

    static let ledgerSQL = """
        WITH ev AS (
            SELECT e.code, e.event, e.discount, e.order_amount,
                   row_number() OVER (PARTITION BY e.code ORDER BY e.at DESC, e.id DESC) AS latest,
                   COALESCE(max(e.face_value) FILTER (WHERE e.event = 'issued') OVER (PARTITION BY e.code), 0) AS face,
                   lag(e.event) OVER w AS prev_event, lag(e.discount) OVER w AS prev_discount,
                   lag(e.order_amount) OVER w AS prev_order_amount
            FROM coupon_events e
            WHERE e.campaign_id = $1
            WINDOW w AS (PARTITION BY e.code ORDER BY e.at, e.id)
        )
        SELECT (SELECT count(*) FROM coupons WHERE campaign_id = $1),
               count(*) FILTER (WHERE latest = 1 AND event = 'redeemed'),
               count(*) FILTER (WHERE event = 'restored'),
               count(*) FILTER (WHERE latest = 1 AND event = 'expired'),
               count(*) FILTER (WHERE latest = 1 AND event IN ('issued', 'locked', 'released', 'restored')),
               COALESCE(sum(face) FILTER (WHERE latest = 1 AND event IN ('issued', 'locked', 'released', 'restored')), 0),
               COALESCE(sum(discount) FILTER (WHERE event = 'redeemed'), 0)
                 - COALESCE(sum(COALESCE(discount, CASE WHEN prev_event = 'redeemed' THEN prev_discount END, 0)) FILTER (WHERE event = 'restored'), 0),
               COALESCE(sum(order_amount) FILTER (WHERE event = 'redeemed'), 0)
                 - COALESCE(sum(COALESCE(order_amount, CASE WHEN prev_event = 'redeemed' THEN prev_order_amount END, 0)) FILTER (WHERE event = 'restored'), 0),
               (SELECT t.currency FROM campaigns c JOIN templates t ON t.id = c.template_id WHERE c.id = $1),
               (SELECT stock_total FROM campaigns WHERE id = $1),
               count(*) FILTER (WHERE latest = 1 AND event = 'revoked')
        FROM ev
        """

    /// Nil when PostgreSQL has no such campaign.
    public static func read(campaignId: Int64, postgres: PostgresConnection, redis: BlockingRedisConnection) throws -> CampaignStats? {
        guard !(try postgres.execute("SELECT 1 FROM campaigns WHERE id = $1", [campaignId]).isEmpty) else { return nil }
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
        let row = try postgres.execute(ledgerSQL, [campaignId]).first!
        return CampaignStats(
            campaignId: campaignId, currency: try row.string(8), stock: try snapshot.stockTotal ?? row.int64(9),
            remaining: snapshot.remaining, issued: snapshot.issued, flushed: try row.int64(0),
            notYetFlushed: Int64(backlog.unflushed.count), streamBacklog: Int64(streamBacklog),
            streamPending: Int64(streamPending), redeemed: try row.int64(1), restored: try row.int64(2),
            expired: try row.int64(3), revoked: try row.int64(10), outstanding: try row.int64(4), outstandingFaceValue: try row.int64(5),
            discount: try row.int64(6), orderRevenue: try row.int64(7),
            claims: outcomes.enumerated().map { index, outcome in (outcome, counters[index]) })
    }

    public func json() -> [UInt8] {
        JSONWriterBox.object { object in
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
        }
    }
}
