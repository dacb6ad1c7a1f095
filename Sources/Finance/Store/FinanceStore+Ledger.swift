import PostgresClient

/// The ledger questions of Finance: `coupon_events` summed per campaign, per day and per
/// store. The SQL lives here; the report types only arrange the figures.
extension FinanceStore {
    /// A campaign's ledger figures now (statistics).
    struct LedgerTotals: Equatable {
        var rows: Int64, redeemed: Int64, restored: Int64, expired: Int64, revoked: Int64
        var outstanding: Int64, outstandingFaceValue: Int64, discount: Int64, orderRevenue: Int64
        var currency: String, stockTotal: Int64
    }

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

    static func ledgerTotals(campaignId: Int64, on connection: PostgresConnection) throws -> LedgerTotals {
        let row = try connection.execute(ledgerSQL, [campaignId]).first!
        return LedgerTotals(
            rows: try row.int64(0), redeemed: try row.int64(1), restored: try row.int64(2), expired: try row.int64(3),
            revoked: try row.int64(10), outstanding: try row.int64(4), outstandingFaceValue: try row.int64(5),
            discount: try row.int64(6), orderRevenue: try row.int64(7), currency: try row.string(8), stockTotal: try row.int64(9))
    }

    /// One campaign's events of one day of a period (`day` nil: before the period, summed).
    struct PeriodRow: Equatable {
        var campaignId: Int64, day: String?
        var issued: Int64, redeemed: Int64, restored: Int64, expired: Int64, revoked: Int64
        var discount: Int64, discountRestored: Int64
        /// Face value that became outstanding minus what stopped being outstanding.
        var liabilityChange: Int64
    }

    /// Every event before the period's end, with its coupon's face value and whether the
    /// coupon is outstanding after it; liability moves by face × (open after − open before).
    /// Events before the period's start carry no day: they sum into the opening liability.
    static let periodSQL = """
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

    static func periodRows(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [PeriodRow] {
        try connection.execute(periodSQL, [period.from, period.to, period.timeZone, period.campaignId]).map { row in
            PeriodRow(
                campaignId: try row.int64(0), day: try row.optionalString(1), issued: try row.int64(2), redeemed: try row.int64(3),
                restored: try row.int64(4), expired: try row.int64(5), revoked: try row.int64(9), discount: try row.int64(6),
                discountRestored: try row.int64(7), liabilityChange: try row.int64(8))
        }
    }

    static let storeDaysSQL = """
        WITH bounds AS (
            SELECT ($1::date)::timestamp AT TIME ZONE $3::text AS start_at,
                   ($2::date + 1)::timestamp AT TIME ZONE $3::text AS end_at
        )
        SELECT e.store_id, to_char((e.at AT TIME ZONE $3::text)::date, 'YYYY-MM-DD'),
               count(*) FILTER (WHERE e.event = 'redeemed'),
               COALESCE(sum(e.discount) FILTER (WHERE e.event = 'redeemed'), 0),
               count(*) FILTER (WHERE e.event = 'restored')
        FROM coupon_events e, bounds b
        WHERE e.store_id IS NOT NULL AND e.at >= b.start_at AND e.at < b.end_at
          AND ($4::text IS NULL OR e.store_id = $4::text)
        GROUP BY 1, 2
        ORDER BY 1, 2
        """

    /// In-store write-offs per store and day of `period`; `storeId` nil: every store.
    static func storeDays(_ period: ReportPeriod, storeId: String?, on connection: PostgresConnection) throws
        -> [(storeId: String, day: StoreReport.Day)]
    {
        try connection.execute(storeDaysSQL, [period.from, period.to, period.timeZone, storeId]).map { row in
            let date = try row.string(1)
            return (try row.string(0), StoreReport.Day(date: date, writeOffs: try row.int64(2), discount: try row.int64(3), restored: try row.int64(4)))
        }
    }
}
