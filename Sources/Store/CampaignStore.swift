import CouponCore
import PostgresClient

/// Campaign rows. Times travel as epoch milliseconds; the validity rule as a small jsonb
/// object (`{"type":"fixed","from_ms":..,"until_ms":..}` or `{"type":"relative","days":N}`).
public enum CampaignStore {
    static let columns = """
        id, template_id, name, stock_total, per_user_limit,
        (extract(epoch FROM claim_start) * 1000)::bigint, (extract(epoch FROM claim_end) * 1000)::bigint,
        validity::text, array_to_string(required_tags, ','), state, COALESCE(period_caps::text, ''), shards
        """
    /// How many values `columns` selects: queries that add their own after it start there.
    static let columnCount = 12

    public static func insert(_ campaign: Campaign, on connection: PostgresConnection) throws -> Campaign {
        let rows = try connection.execute(
            """
            INSERT INTO campaigns (template_id, name, stock_total, per_user_limit, claim_start, claim_end, validity, required_tags, state, period_caps, shards)
            VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 millisecond',
                    timestamptz 'epoch' + $6 * interval '1 millisecond', $7::jsonb, string_to_array($8, ','), $9, NULLIF($10, '')::jsonb, $11)
            RETURNING \(columns)
            """,
            [
                campaign.templateId, campaign.name, campaign.stockTotal, campaign.perUserLimit, campaign.claimStartMs,
                campaign.claimEndMs, validityJSON(campaign.validity), campaign.eligibility.requiredTags.joined(separator: ","),
                campaign.state.rawValue, campaign.periodCaps.map(capsJSON) ?? "", campaign.shards,
            ])
        guard let row = rows.first else { throw PostgresError(.queryFailed, "INSERT returned no row") }
        return try decode(row)
    }

    public static func find(id: Int64, on connection: PostgresConnection) throws -> Campaign? {
        try connection.execute("SELECT \(columns) FROM campaigns WHERE id = $1", [id]).first.map(decode)
    }

    /// Campaigns Redis must know: active and paused ones.
    public static func published(on connection: PostgresConnection) throws -> [Campaign] {
        try connection.execute("SELECT \(columns) FROM campaigns WHERE state IN ('active', 'paused') ORDER BY id").map(decode)
    }

    public static func setState(id: Int64, _ state: Campaign.State, on connection: PostgresConnection) throws -> Campaign? {
        try connection.execute(
            "UPDATE campaigns SET state = $2, updated_at = now() WHERE id = $1 RETURNING \(columns)", [id, state.rawValue]
        ).first.map(decode)
    }

    public static func addStock(id: Int64, units: Int64, on connection: PostgresConnection) throws -> Campaign? {
        try connection.execute(
            """
            UPDATE campaigns SET stock_total = stock_total + $2, updated_at = now()
            WHERE id = $1 AND stock_total + $2 <= $3 RETURNING \(columns)
            """, [id, units, Campaign.maxStock]
        ).first.map(decode)
    }

    /// Coupons of the campaign already in PostgreSQL.
    public static func couponCount(id: Int64, on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [id]).first?.int64(0) ?? 0
    }

    static func decode(_ row: PostgresRow) throws -> Campaign {
        let tags = try row.string(8)
        return Campaign(
            id: try row.int64(0), templateId: try row.int64(1), name: try row.string(2), stockTotal: try row.int64(3),
            perUserLimit: try row.int(4), claimStartMs: try row.int64(5), claimEndMs: try row.int64(6),
            validity: try parseValidity(try row.string(7)),
            eligibility: Eligibility(requiredTags: tags.isEmpty ? [] : tags.split(separator: ",").map(String.init)),
            state: Campaign.State(rawValue: try row.string(9)) ?? .ended, periodCaps: try parseCaps(try row.string(10)), shards: try row.int(11))
    }

    static func capsJSON(_ caps: PeriodCaps) -> String {
        var object = JSONObject()
        object["time_zone"] = .string(caps.timeZone)
        if let limit = caps.userDailyLimit { object["user_daily_limit"] = .int(Int64(limit)) }
        if let limit = caps.userWeeklyLimit { object["user_weekly_limit"] = .int(Int64(limit)) }
        if let stock = caps.dailyStock { object["daily_stock"] = .int(stock) }
        object["daily_release_minute"] = .int(Int64(caps.dailyReleaseMinute))
        return JSONValue.object(object).jsonText
    }

    static func parseCaps(_ text: String) throws -> PeriodCaps? {
        guard !text.isEmpty else { return nil }
        let value = try JSONParser.parse(text)
        guard let zone = value["time_zone"]?.stringValue else { throw PostgresError(.decodingFailed, "bad period_caps \(text)") }
        return PeriodCaps(
            timeZone: zone, userDailyLimit: value["user_daily_limit"]?.int64Value.map { Int($0) },
            userWeeklyLimit: value["user_weekly_limit"]?.int64Value.map { Int($0) }, dailyStock: value["daily_stock"]?.int64Value,
            dailyReleaseMinute: Int(value["daily_release_minute"]?.int64Value ?? 0))
    }

    static func validityJSON(_ rule: ValidityRule) -> String {
        switch rule {
        case .fixed(let fromMs, let untilMs): #"{"type":"fixed","from_ms":\#(fromMs),"until_ms":\#(untilMs)}"#
        case .relative(let days): #"{"type":"relative","days":\#(days)}"#
        }
    }

    static func parseValidity(_ text: String) throws -> ValidityRule {
        let value = try JSONParser.parse(text)
        if value["type"]?.stringValue == "fixed", let from = value["from_ms"]?.int64Value, let until = value["until_ms"]?.int64Value {
            return .fixed(fromMs: from, untilMs: until)
        }
        if value["type"]?.stringValue == "relative", let days = value["days"]?.int64Value {
            return .relative(days: Int(days))
        }
        throw PostgresError(.decodingFailed, "bad validity \(text)")
    }
}
