import CouponCore
import PostgresClient

/// Campaign pages for the console's list (`GET /v1/campaigns`), newest first.
extension CampaignStore {
    public struct Listed: Sendable {
        public let campaign: Campaign
        public let kind: String
        public let currency: String
        /// Coupons in PostgreSQL and those of them redeemed.
        public let flushed: Int64
        public let redeemed: Int64
    }

    public struct ListFilter: Sendable {
        public var state: Campaign.State?
        public var kind: String?
        /// Case-insensitive substring of the name.
        public var search: String?
        /// Only campaigns with an id below this (the previous page's last id).
        public var before: Int64?
        public var limit: Int

        public init(state: Campaign.State? = nil, kind: String? = nil, search: String? = nil, before: Int64? = nil, limit: Int = 50) {
            self.state = state
            self.kind = kind
            self.search = search
            self.before = before
            self.limit = limit
        }
    }

    public static func list(_ filter: ListFilter, on connection: PostgresConnection) throws -> [Listed] {
        let rows = try connection.execute(
            """
            SELECT \(columns), kind, currency,
                   (SELECT count(*) FROM coupons k WHERE k.campaign_id = x.id),
                   (SELECT count(*) FROM coupons k WHERE k.campaign_id = x.id AND k.state = 'redeemed')
            FROM (SELECT c.*, t.kind, t.currency FROM campaigns c JOIN templates t ON t.id = c.template_id) x
            WHERE ($1::text IS NULL OR state = $1)
              AND ($2::text IS NULL OR kind = $2)
              AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC
            LIMIT $5
            """,
            [filter.state?.rawValue, filter.kind, filter.search, filter.before, filter.limit])
        let extra = columnCount  // kind, currency, flushed, redeemed follow the campaign's columns
        return try rows.map { row in
            Listed(
                campaign: try decode(row), kind: try row.string(extra), currency: try row.string(extra + 1),
                flushed: try row.int64(extra + 2), redeemed: try row.int64(extra + 3))
        }
    }
}
