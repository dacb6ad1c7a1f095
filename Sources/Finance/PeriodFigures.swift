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

    static func read(_ period: ReportPeriod, on connection: PostgresConnection) throws -> [CampaignPeriod] {
        var byCampaign: [Int64: [String?: FinanceStore.PeriodRow]] = [:]
        for row in try FinanceStore.periodRows(period, on: connection) { byCampaign[row.campaignId, default: [:]][row.day] = row }
        var ids = Set(byCampaign.keys)
        if let id = period.campaignId { ids.insert(id) }
        guard !ids.isEmpty else { return [] }
        let currency = try FinanceStore.currencies(of: ids.sorted(), on: connection)
        return ids.sorted().map { id in
            let rowsByDay = byCampaign[id] ?? [:]
            var liability = rowsByDay[nil as String?]?.liabilityChange ?? 0
            let days = period.days.map { date in
                var day = DayFigures(date: date)
                day.openingLiability = liability
                if let row = rowsByDay[date] {
                    day.issued = row.issued
                    day.redeemed = row.redeemed
                    day.restored = row.restored
                    day.expired = row.expired
                    day.revoked = row.revoked
                    day.discount = row.discount
                    day.discountRestored = row.discountRestored
                    liability += row.liabilityChange
                }
                day.closingLiability = liability
                return day
            }
            return CampaignPeriod(campaignId: id, currency: currency[id] ?? "", days: days)
        }
    }
}
