import CouponCore
import PostgresClient

/// A campaign's figures broken down by the channel its coupons were granted through (issue 12;
/// `coupons.channel`, `none` for claims that named no channel). Amounts in minor units.
public struct ChannelFigures: Sendable, Equatable {
    public static let noChannel = "none"

    public let channel: String
    /// Coupons granted (campaign stats: rows in PostgreSQL; report: `issued` events in the period).
    public let issued: Int64
    /// Campaign stats: coupons whose latest event is `redeemed`; report: `redeemed` events in the period.
    public let redeemed: Int64
    /// Discount of `redeemed` events minus the discount handed back by `restored` events.
    public let discount: Int64
    /// Order amounts of redeeming orders minus those of restored ones.
    public let orderRevenue: Int64

    public init(channel: String, issued: Int64, redeemed: Int64, discount: Int64, orderRevenue: Int64) {
        self.channel = channel
        self.issued = issued
        self.redeemed = redeemed
        self.discount = discount
        self.orderRevenue = orderRevenue
    }

    /// `redeemed / issued`, 4 decimals; nil when nothing was issued.
    public var redemptionRate: String? { Ratio.format(redeemed, issued) }
    /// `order_revenue / discount`, 4 decimals; nil when the discount is 0.
    public var roi: String? { Ratio.format(orderRevenue, discount) }

    func write(into object: inout JSONObjectWriter) {
        object.field("channel", channel)
        object.field("issued", issued)
        object.field("redeemed", redeemed)
        if let redemptionRate { object.field("redemption_rate", redemptionRate) } else { object.nullField("redemption_rate") }
        object.field("discount", discount)
        object.field("order_revenue", orderRevenue)
        if let roi { object.field("roi", roi) } else { object.nullField("roi") }
    }

    /// Events of the campaign's coupons with their channel; a restore hands back its own
    /// discount or, when it has none, the redeem it undoes (as `CampaignStats` counts it).
    static let events = """
        SELECT e.code, e.campaign_id, e.event, e.at, COALESCE(k.channel, '\(noChannel)') AS channel,
               e.discount, e.order_amount,
               row_number() OVER (PARTITION BY e.code ORDER BY e.at DESC, e.id DESC) AS latest,
               CASE WHEN e.event = 'restored' THEN COALESCE(e.discount, CASE WHEN lag(e.event) OVER w = 'redeemed' THEN lag(e.discount) OVER w END, 0) END AS restored_discount,
               CASE WHEN e.event = 'restored' THEN COALESCE(e.order_amount, CASE WHEN lag(e.event) OVER w = 'redeemed' THEN lag(e.order_amount) OVER w END, 0) END AS restored_amount
        FROM coupon_events e JOIN coupons k ON k.code = e.code
        """

    /// Lifetime figures of one campaign, by channel (the `/stats` route).
    static let campaignSQL = """
        WITH ev AS (\(events) WHERE e.campaign_id = $1 WINDOW w AS (PARTITION BY e.code ORDER BY e.at, e.id)),
        money AS (
            SELECT channel,
                   count(*) FILTER (WHERE latest = 1 AND event = 'redeemed') AS redeemed,
                   COALESCE(sum(discount) FILTER (WHERE event = 'redeemed'), 0) - COALESCE(sum(restored_discount), 0) AS discount,
                   COALESCE(sum(order_amount) FILTER (WHERE event = 'redeemed'), 0) - COALESCE(sum(restored_amount), 0) AS revenue
            FROM ev GROUP BY channel
        ), issued AS (
            SELECT COALESCE(channel, '\(noChannel)') AS channel, count(*) AS issued FROM coupons WHERE campaign_id = $1 GROUP BY 1
        )
        SELECT i.channel, i.issued, COALESCE(m.redeemed, 0), COALESCE(m.discount, 0), COALESCE(m.revenue, 0)
        FROM issued i LEFT JOIN money m ON m.channel = i.channel
        ORDER BY i.channel
        """

    public static func campaign(_ campaignId: Int64, on connection: PostgresConnection) throws -> [ChannelFigures] {
        try connection.execute(campaignSQL, [campaignId]).map(decode)
    }

    /// Figures of events inside the report period (`issued`/`redeemed` events, net discount and
    /// revenue), by campaign and channel, from the ledger only like the rest of the period section.
    static let periodSQL = """
        WITH bounds AS (
            SELECT ($1::date)::timestamp AT TIME ZONE $3::text AS start_at,
                   ($2::date + 1)::timestamp AT TIME ZONE $3::text AS end_at
        ), ev AS (\(events), bounds b WHERE e.at < b.end_at AND ($4::bigint IS NULL OR e.campaign_id = $4::bigint)
                  WINDOW w AS (PARTITION BY e.code ORDER BY e.at, e.id))
        SELECT ev.campaign_id, ev.channel,
               count(*) FILTER (WHERE event = 'issued'),
               count(*) FILTER (WHERE event = 'redeemed'),
               COALESCE(sum(discount) FILTER (WHERE event = 'redeemed'), 0) - COALESCE(sum(restored_discount), 0),
               COALESCE(sum(order_amount) FILTER (WHERE event = 'redeemed'), 0) - COALESCE(sum(restored_amount), 0)
        FROM ev, bounds b
        WHERE ev.at >= b.start_at
        GROUP BY ev.campaign_id, ev.channel
        ORDER BY ev.campaign_id, ev.channel
        """

    static func period(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [Int64: [ChannelFigures]] {
        var result: [Int64: [ChannelFigures]] = [:]
        for row in try connection.execute(periodSQL, [period.from, period.to, period.timeZone, period.campaignId]) {
            result[try row.int64(0), default: []].append(
                ChannelFigures(channel: try row.string(1), issued: try row.int64(2), redeemed: try row.int64(3), discount: try row.int64(4), orderRevenue: try row.int64(5)))
        }
        return result
    }

    static func decode(_ row: PostgresRow) throws -> ChannelFigures {
        ChannelFigures(channel: try row.string(0), issued: try row.int64(1), redeemed: try row.int64(2), discount: try row.int64(3), orderRevenue: try row.int64(4))
    }
}
