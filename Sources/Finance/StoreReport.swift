import CouponCore
import PostgresClient

/// In-store write-offs by store and day (issue 13), from `coupon_events` rows that carry a
/// `store_id`: write-offs (`redeemed` events), the discount they gave, and the coupons given
/// back there (`restored`). Days are calendar days in the period's time zone; only events
/// inside the period count, so a closed period reports the same figures whenever asked.
public struct StoreReport: Sendable, Equatable {
    public struct Day: Sendable, Equatable {
        public var date: String
        public var writeOffs: Int64 = 0
        public var discount: Int64 = 0
        public var restored: Int64 = 0
    }

    public struct Store: Sendable, Equatable {
        public let storeId: String
        public let days: [Day]

        public var totals: Day {
            days.reduce(into: Day(date: "")) { total, day in
                total.writeOffs += day.writeOffs
                total.discount += day.discount
                total.restored += day.restored
            }
        }
    }

    public let period: ReportPeriod
    public let stores: [Store]


    /// `storeId` nil: every store with activity in the period.
    public static func build(period: ReportPeriod, storeId: String?, on connection: PostgresConnection) throws -> StoreReport {
        var byStore: [String: [String: Day]] = [:]
        for (store, day) in try FinanceStore.storeDays(period, storeId: storeId, on: connection) {
            byStore[store, default: [:]][day.date] = day
        }
        if let storeId, byStore[storeId] == nil { byStore[storeId] = [:] }
        let stores = byStore.keys.sorted().map { store in
            Store(storeId: store, days: period.days.map { byStore[store]?[$0] ?? Day(date: $0) })
        }
        return StoreReport(period: period, stores: stores)
    }

    public func json() -> [UInt8] {
        JSONWriter.object { report in
            period.writeHead("stores", into: &report)
            report.arrayField("stores") { list in
                for store in stores {
                    list.objectElement { item in
                        item.field("store_id", store.storeId)
                        item.arrayField("days") { days in
                            for day in store.days { days.objectElement { Self.write(day, into: &$0) } }
                        }
                        item.objectField("totals") { Self.write(store.totals, into: &$0) }
                    }
                }
            }
        }
    }

    static func write(_ day: Day, into object: inout JSONObjectWriter) {
        if !day.date.isEmpty { object.field("date", day.date) }
        object.field("write_offs", day.writeOffs)
        object.field("discount", day.discount)
        object.field("restored", day.restored)
    }
}
