import CouponCore
import PostgresClient

/// What a reconciliation report covers: calendar days `from`...`to` (inclusive) in the time
/// zone `timeZone`, optionally one campaign. Validated against PostgreSQL, which does the
/// date arithmetic and knows the time zones (`pg_timezone_names`).
public struct ReportPeriod: Sendable, Equatable {
    public let from: String
    public let to: String
    public let timeZone: String
    public let campaignId: Int64?
    /// The days of the period, `YYYY-MM-DD`, in order.
    public let days: [String]

    public static let maxDays = 366

    /// Validates the request; throws `FinanceError` (400) on bad dates, an unknown zone or a
    /// period that is empty or longer than `maxDays`.
    public static func validate(
        from: String?, to: String?, timeZone: String?, campaignId: String?, on connection: PostgresConnection
    ) throws -> ReportPeriod {
        guard let from, isDateShape(from) else { throw FinanceError.invalid("from must be a date YYYY-MM-DD") }
        guard let to, isDateShape(to) else { throw FinanceError.invalid("to must be a date YYYY-MM-DD") }
        let zone = timeZone ?? "UTC"
        guard !zone.isEmpty, zone.utf8.count <= 64 else { throw FinanceError.invalid("tz must be a time zone name such as Europe/Berlin") }
        var campaign: Int64?
        if let campaignId {
            guard let id = ResourceID.parse(campaignId) else { throw FinanceError.invalid("campaign_id must be a positive integer") }
            campaign = id
        }
        let check = try FinanceStore.checkPeriod(from: from, to: to, zone: zone, on: connection)
        guard check.validDates else { throw FinanceError.invalid("from and to must be valid calendar dates YYYY-MM-DD") }
        guard check.spanDays >= 0 else { throw FinanceError.invalid("from must not be after to") }
        guard check.spanDays < maxDays else { throw FinanceError.invalid("a report covers at most \(maxDays) days") }
        guard check.zoneKnown else { throw FinanceError.invalid("tz: unknown time zone '\(zone)'") }
        if let campaign, try !FinanceStore.campaignExists(campaign, on: connection) {
            throw FinanceError(.notFound, "campaign not found")
        }
        let days = try FinanceStore.days(from: from, to: to, on: connection)
        return ReportPeriod(from: from, to: to, timeZone: zone, campaignId: campaign, days: days)
    }

    /// `report`, `from`, `to` and `tz`: how every report's JSON begins.
    func writeHead(_ report: String, into object: inout JSONObjectWriter) {
        object.field("report", report)
        object.field("from", from)
        object.field("to", to)
        object.field("tz", timeZone)
    }

    static func isDateShape(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        return bytes.enumerated().allSatisfy { index, byte in index == 4 || index == 7 || (byte >= 0x30 && byte <= 0x39) }
    }
}
