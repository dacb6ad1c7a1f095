import CouponCore
import PostgresClient
import Store

/// The wallet's PostgreSQL reads: a user's coupon rows with their templates, and the
/// templates of campaigns whose grants are not flushed yet.
enum WalletStore {
    static let couponsSQL = """
        SELECT c.code, c.campaign_id, c.template_id, c.user_id, c.request_id, c.state,
               \(CheckoutStore.ms("c.issued_at")), \(CheckoutStore.ms("c.valid_from")), \(CheckoutStore.ms("c.valid_until")),
               \(CheckoutStore.ms("c.locked_until")), t.spec::text
        FROM coupons c JOIN templates t ON t.id = c.template_id
        WHERE c.user_id = $1
        ORDER BY c.issued_at, c.code
        """

    static let campaignTemplatesSQL = """
        SELECT c.id, t.id, t.spec::text FROM campaigns c JOIN templates t ON t.id = c.template_id
        WHERE c.id = ANY($1::bigint[])
        """

    static func coupons(userId: String, on connection: PostgresConnection) throws -> [WalletCoupon] {
        try connection.execute(couponsSQL, [userId]).map { row in
            let code = try row.string(0)
            let stateText = try row.string(5)
            guard let state = CouponState(rawValue: stateText) else {
                throw RedemptionError(code: .badState, detail: "coupon \(code) has state \(stateText)")
            }
            return WalletCoupon(
                code: code, campaignId: try row.int64(1), templateId: try row.int64(2), userId: try row.string(3),
                requestId: try row.string(4), state: state, issuedAtMs: try row.int64(6), validFromMs: try row.int64(7),
                validUntilMs: try row.int64(8), lockedUntilMs: try row.optionalInt64(9),
                template: try Wallet.decodeTemplate(try row.string(10), of: code), flushed: true)
        }
    }

    /// Template id and template of each campaign in `campaignIds` PostgreSQL knows.
    static func templates(campaignIds: [Int64], on connection: PostgresConnection) throws -> [Int64: (Int64, CouponTemplate)] {
        var templates: [Int64: (Int64, CouponTemplate)] = [:]
        for row in try connection.execute(campaignTemplatesSQL, [PostgresArrayLiteral.integers(campaignIds)]) {
            let campaignId = try row.int64(0)
            templates[campaignId] = (try row.int64(1), try Wallet.decodeTemplate(try row.string(2), of: "campaign \(campaignId)"))
        }
        return templates
    }
}
