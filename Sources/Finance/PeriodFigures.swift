import PostgresClient

/// One campaign's figures for one day of a report, from `coupon_events` only. Amounts are
/// integer minor units of the campaign's currency.
public struct DayFigures: Sendable, Equatable {
    public var date: String
    public var issued: Int64 = 0
    public var redeemed: Int64 = 0
    public var restored: Int64 = 0
    public var expired: Int64 = 0
    /// Coupons withdrawn by an operator (`revoked` events).
    public var revoked: Int64 = 0
    /// Discount granted by the day's `redeemed` events.
    public var discount: Int64 = 0
    /// Discount handed back by the day's `restored` events (refunds).
    public var discountRestored: Int64 = 0
    /// Face value of coupons outstanding (issued, locked, released or restored — not yet
    /// redeemed, expired or revoked) at the start of the day.
    public var openingLiability: Int64 = 0
    /// The same at the end of the day (= the next day's opening).
    public var closingLiability: Int64 = 0

    public init(date: String) { self.date = date }
}

/// One campaign over the whole period: its currency, each day, and the period totals.
public struct CampaignPeriod: Sendable, Equatable {
    public let campaignId: Int64
    public let currency: String
    public let days: [DayFigures]

    public var totals: DayFigures {
        var total = DayFigures(date: "")
        for day in days {
            total.issued += day.issued
            total.redeemed += day.redeemed
            total.restored += day.restored
            total.expired += day.expired
            total.revoked += day.revoked
            total.discount += day.discount
            total.discountRestored += day.discountRestored
        }
        total.openingLiability = days.first?.openingLiability ?? 0
        total.closingLiability = days.last?.closingLiability ?? 0
        return total
    }
}

/// The period section of the report. Only events with `at` before the end of the period
/// count, so a closed period gives the same figures whenever it is asked for again (as long
/// as no grant claimed inside it was still unflushed — the `period_flushed` check says so).
enum PeriodFigures {
    /// Every event before the period's end, with its coupon's face value and whether the
    /// coupon is outstanding after it; liability moves by face × (open after − open before).
    /// Events before the period's start carry no day: they sum into the opening liability.
    static let sql = """
        WITH bounds AS (
            SELECT ($1::date)::timestamp AT TIME ZONE $3::text AS start_at,
                   ($2::date + 1)::timestamp AT TIME ZONE $3::text AS end_at
        ), ev AS (
            SELECT e.campaign_id, e.event, e.at, e.discount,
                   COALESCE(max(e.face_value) FILTER (WHERE e.event = 'issued') OVER (PARTITION BY e.code), 0) AS face,
                   CASE WHEN e.event IN ('issued', 'locked', 'released', 'restored') THEN 1 ELSE 0 END AS open_after,
                   lag(CASE WHEN e.event IN ('issued', 'locked', 'released', 'restored') THEN 1 ELSE 0 END) OVER w AS open_before,
                   lag(e.event) OVER w AS prev_event,
                   lag(e.discount) OVER w AS prev_discount
            FROM coupon_events e, bounds b
            WHERE e.at < b.end_at AND ($4::bigint IS NULL OR e.campaign_id = $4::bigint)
            WINDOW w AS (PARTITION BY e.code ORDER BY e.at, e.id)
        ), marked AS (
            SELECT ev.campaign_id, ev.event, ev.discount,
                   CASE WHEN ev.event = 'restored'
                        THEN COALESCE(ev.discount, CASE WHEN ev.prev_event = 'redeemed' THEN ev.prev_discount END, 0)
                   END AS restored_discount,
                   CASE WHEN ev.at < b.start_at THEN NULL ELSE to_char((ev.at AT TIME ZONE $3::text)::date, 'YYYY-MM-DD') END AS day,
                   ev.face * (ev.open_after - COALESCE(ev.open_before, 0)) AS delta
            FROM ev, bounds b
        )
        SELECT campaign_id, day,
               count(*) FILTER (WHERE event = 'issued'),
               count(*) FILTER (WHERE event = 'redeemed'),
               count(*) FILTER (WHERE event = 'restored'),
               count(*) FILTER (WHERE event = 'expired'),
               COALESCE(sum(discount) FILTER (WHERE event = 'redeemed'), 0),
               COALESCE(sum(restored_discount), 0),
               COALESCE(sum(delta), 0),
               count(*) FILTER (WHERE event = 'revoked')
        FROM marked
        GROUP BY campaign_id, day
        ORDER BY campaign_id, day NULLS FIRST
        """

    static func read(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [CampaignPeriod] {
        let rows = try connection.execute(sql, [period.from, period.to, period.timeZone, period.campaignId])
        var byCampaign: [Int64: [String?: PostgresRow]] = [:]
        for row in rows { byCampaign[try row.int64(0), default: [:]][try row.optionalString(1)] = row }
        var ids = Set(byCampaign.keys)
        if let id = period.campaignId { ids.insert(id) }
        guard !ids.isEmpty else { return [] }
        let currencies = try connection.execute(
            "SELECT c.id, t.currency FROM campaigns c JOIN templates t ON t.id = c.template_id WHERE c.id = ANY($1::bigint[])",
            [ids.sorted().map(String.init).joined(separator: ",").wrappedInBraces])
        var currency: [Int64: String] = [:]
        for row in currencies { currency[try row.int64(0)] = try row.string(1) }

        return try ids.sorted().map { id in
            let rowsByDay = byCampaign[id] ?? [:]
            var liability = try rowsByDay[nil as String?]?.int64(8) ?? 0
            let days = try period.days.map { date in
                var day = DayFigures(date: date)
                day.openingLiability = liability
                if let row = rowsByDay[date] {
                    day.issued = try row.int64(2)
                    day.redeemed = try row.int64(3)
                    day.restored = try row.int64(4)
                    day.expired = try row.int64(5)
                    day.revoked = try row.int64(9)
                    day.discount = try row.int64(6)
                    day.discountRestored = try row.int64(7)
                    liability += try row.int64(8)
                }
                day.closingLiability = liability
                return day
            }
            return CampaignPeriod(campaignId: id, currency: currency[id] ?? "", days: days)
        }
    }
}

extension String {
    var wrappedInBraces: String { "{" + self + "}" }
}
