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
        let rows: PostgresRows
        do {
            rows = try connection.execute(
                """
                SELECT to_char($1::date, 'YYYY-MM-DD') = $1::text AND to_char($2::date, 'YYYY-MM-DD') = $2::text,
                       $2::date - $1::date,
                       EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $3::text)
                """, [from, to, zone])
        } catch let error as PostgresError where error.condition == .invalidValue {
            throw FinanceError.invalid("from and to must be valid calendar dates YYYY-MM-DD")
        }
        guard let row = rows.first, try row.bool(0) else {
            throw FinanceError.invalid("from and to must be valid calendar dates YYYY-MM-DD")
        }
        let span = try row.int(1)
        guard span >= 0 else { throw FinanceError.invalid("from must not be after to") }
        guard span < maxDays else { throw FinanceError.invalid("a report covers at most \(maxDays) days") }
        guard try row.bool(2) else { throw FinanceError.invalid("tz: unknown time zone '\(zone)'") }
        if let campaign {
            let found = try connection.execute("SELECT 1 FROM campaigns WHERE id = $1", [campaign])
            guard !found.isEmpty else { throw FinanceError(.notFound, "campaign not found") }
        }
        let days = try connection.execute(
            "SELECT to_char($1::date + n, 'YYYY-MM-DD') FROM generate_series(0, $2::date - $1::date) AS n ORDER BY n", [from, to]
        ).map { try $0.string(0) }
        return ReportPeriod(from: from, to: to, timeZone: zone, campaignId: campaign, days: days)
    }

    static func isDateShape(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        return bytes.enumerated().allSatisfy { index, byte in index == 4 || index == 7 || (byte >= 0x30 && byte <= 0x39) }
    }
}
