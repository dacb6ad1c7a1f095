import Foundation

/// Period caps (issue 12): per user per local day and per ISO week, and a daily stock released
/// every local day at `dailyReleaseMinute`, in the campaign's IANA time zone. Decided inside the
/// claim script (`PeriodCapsRules`) against Redis `TIME`; the node publishes the period
/// boundaries computed by `PeriodCalendar`.
public struct PeriodCaps: Sendable, Equatable {
    public var timeZone: String
    public var userDailyLimit: Int?
    public var userWeeklyLimit: Int?
    public var dailyStock: Int64?
    /// Minutes after local midnight at which each day's `dailyStock` is released (0…1439).
    public var dailyReleaseMinute: Int

    public init(timeZone: String = "UTC", userDailyLimit: Int? = nil, userWeeklyLimit: Int? = nil, dailyStock: Int64? = nil, dailyReleaseMinute: Int = 0) {
        self.timeZone = timeZone
        self.userDailyLimit = userDailyLimit
        self.userWeeklyLimit = userWeeklyLimit
        self.dailyStock = dailyStock
        self.dailyReleaseMinute = dailyReleaseMinute
    }

    /// The zone, or nil when `timeZone` is not an IANA name this machine knows.
    public var zone: TimeZone? { TimeZone(identifier: timeZone) }

    /// `HH:MM` of the daily release.
    public var releaseText: String {
        let hours = dailyReleaseMinute / 60, minutes = dailyReleaseMinute % 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }

    /// Minutes after midnight of `HH:MM` (00:00…23:59), or nil.
    public static func parseRelease(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
            (0...23).contains(hours), (0...59).contains(minutes), parts.allSatisfy({ $0.allSatisfy(\.isASCII) })
        else { return nil }
        return hours * 60 + minutes
    }

    public func validationErrors() -> [ValidationError] {
        var errors: [ValidationError] = []
        if timeZone.count > 64 || zone == nil {
            errors.append(ValidationError(field: "time_zone", message: "must be an IANA time zone such as Asia/Shanghai"))
        }
        if let limit = userDailyLimit, !(1...Campaign.maxPerUserLimit).contains(limit) {
            errors.append(ValidationError(field: "user_daily_limit", message: "must be between 1 and \(Campaign.maxPerUserLimit)"))
        }
        if let limit = userWeeklyLimit, !(1...Campaign.maxPerUserLimit).contains(limit) {
            errors.append(ValidationError(field: "user_weekly_limit", message: "must be between 1 and \(Campaign.maxPerUserLimit)"))
        }
        if let stock = dailyStock, !(1...Campaign.maxStock).contains(stock) {
            errors.append(ValidationError(field: "daily_stock", message: "must be between 1 and \(Campaign.maxStock)"))
        }
        if dailyStock == nil, dailyReleaseMinute != 0 {
            errors.append(ValidationError(field: "daily_release_at", message: "applies only with daily_stock"))
        }
        return errors
    }

    static let fields: Set<String> = ["time_zone", "user_daily_limit", "user_weekly_limit", "daily_stock", "daily_release_at"]

    /// The caps among a campaign's top-level fields; nil when it has none.
    static func decode(_ fields: JSONFields) throws(ValidationError) -> PeriodCaps? {
        func optionalInt(_ name: String) throws(ValidationError) -> Int64? {
            guard let value = fields.value(name), value != .null else { return nil }
            guard let number = value.int64Value else { throw fields.error(name, "must be an integer") }
            return number
        }
        func optionalString(_ name: String) throws(ValidationError) -> String? {
            guard let value = fields.value(name), value != .null else { return nil }
            guard let text = value.stringValue else { throw fields.error(name, "must be a string") }
            return text
        }
        let daily = try optionalInt("user_daily_limit"), weekly = try optionalInt("user_weekly_limit")
        let stock = try optionalInt("daily_stock")
        let zone = try optionalString("time_zone"), release = try optionalString("daily_release_at")
        guard daily != nil || weekly != nil || stock != nil else {
            if zone != nil || release != nil {
                throw fields.error(zone != nil ? "time_zone" : "daily_release_at", "applies only with user_daily_limit, user_weekly_limit or daily_stock")
            }
            return nil
        }
        var releaseMinute = 0
        if let release {
            guard let minute = parseRelease(release) else { throw fields.error("daily_release_at", "must be HH:MM, 00:00 to 23:59") }
            releaseMinute = minute
        }
        func small(_ value: Int64?, _ name: String) throws(ValidationError) -> Int? {
            guard let value else { return nil }
            guard (-1_000_000...1_000_000).contains(value) else { throw fields.error(name, "is out of range") }
            return Int(value)
        }
        let caps = PeriodCaps(
            timeZone: zone ?? "UTC", userDailyLimit: try small(daily, "user_daily_limit"), userWeeklyLimit: try small(weekly, "user_weekly_limit"),
            dailyStock: stock, dailyReleaseMinute: releaseMinute)
        if let first = caps.validationErrors().first { throw first }
        return caps
    }

    /// Adds the caps' wire fields to a campaign object.
    func encode(into object: inout JSONObject) {
        object["time_zone"] = .string(timeZone)
        if let userDailyLimit { object["user_daily_limit"] = .int(Int64(userDailyLimit)) }
        if let userWeeklyLimit { object["user_weekly_limit"] = .int(Int64(userWeeklyLimit)) }
        if let dailyStock {
            object["daily_stock"] = .int(dailyStock)
            object["daily_release_at"] = .string(releaseText)
        }
    }
}
