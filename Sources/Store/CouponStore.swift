import PostgresClient

/// A coupon row as the wallet and checkout read it.
public struct CouponRecord: Sendable, Equatable {
    public var code: String
    public var campaignId: Int64
    public var templateId: Int64
    public var userId: String
    public var requestId: String
    public var state: String
    public var issuedAtMs: Int64
    public var validFromMs: Int64
    public var validUntilMs: Int64
    public var orderId: String?
    public var discount: Int64?

    public init(
        code: String, campaignId: Int64, templateId: Int64, userId: String, requestId: String, state: String,
        issuedAtMs: Int64, validFromMs: Int64, validUntilMs: Int64, orderId: String? = nil, discount: Int64? = nil
    ) {
        self.code = code
        self.campaignId = campaignId
        self.templateId = templateId
        self.userId = userId
        self.requestId = requestId
        self.state = state
        self.issuedAtMs = issuedAtMs
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
        self.orderId = orderId
        self.discount = discount
    }
}

public enum CouponStore {
    static let columns = """
        code, campaign_id, template_id, user_id, request_id, state,
        (extract(epoch FROM issued_at) * 1000)::bigint, (extract(epoch FROM valid_from) * 1000)::bigint,
        (extract(epoch FROM valid_until) * 1000)::bigint, order_id, discount
        """

    public static func forUser(_ userId: String, on connection: PostgresConnection) throws -> [CouponRecord] {
        try connection.execute(
            "SELECT \(columns) FROM coupons WHERE user_id = $1 ORDER BY issued_at, code", [userId]
        ).map(decode)
    }

    public static func find(code: String, on connection: PostgresConnection) throws -> CouponRecord? {
        try connection.execute("SELECT \(columns) FROM coupons WHERE code = $1", [code]).first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> CouponRecord {
        CouponRecord(
            code: try row.string(0), campaignId: try row.int64(1), templateId: try row.int64(2), userId: try row.string(3),
            requestId: try row.string(4), state: try row.string(5), issuedAtMs: try row.int64(6),
            validFromMs: try row.int64(7), validUntilMs: try row.int64(8), orderId: try row.optionalString(9),
            discount: try row.optionalInt64(10))
    }
}
