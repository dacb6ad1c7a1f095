import Foundation

/// When a lot of earned points expires (the program's rule, issue 11). Pure: the caller gives
/// the time of earning, so tests use a fixed clock. All calendar arithmetic is in UTC.
public enum PointsExpiryPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Points never expire.
    case never
    /// Expire `days` days after they were earned.
    case days(Int)
    /// Expire at the end of the month `months` after the month of earning (0: this month).
    case endOfMonth(Int)
    /// Expire at the end of the year `years` after the year of earning ("积分次年年底清零" is 1).
    case endOfYear(Int)

    /// The expiry instant (ms since epoch; the lot is gone at that instant) of points earned at
    /// `earnedAtMs`, or nil for `never`.
    public func expiryMs(earnedAtMs: Int64) -> Int64? {
        switch self {
        case .never: return nil
        case .days(let days): return earnedAtMs + Int64(days) * 86_400_000
        case .endOfMonth(let months):
            let (year, month) = Self.yearMonth(earnedAtMs)
            let index = year * 12 + (month - 1) + months + 1  // first day of the month after
            return Self.startOfMonthMs(year: index / 12, month: index % 12 + 1)
        case .endOfYear(let years):
            let (year, _) = Self.yearMonth(earnedAtMs)
            return Self.startOfMonthMs(year: year + years + 1, month: 1)
        }
    }

    /// Parses the `points-expiry` setting: `never`, `days:N`, `end-of-month:N`, `end-of-year:N`.
    public init?(setting: String) {
        if setting == "never" { self = .never; return }
        let parts = setting.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let n = Int(parts[1]), n >= 0, n <= 100_000 else { return nil }
        switch parts[0] {
        case "days" where n >= 1: self = .days(n)
        case "end-of-month": self = .endOfMonth(n)
        case "end-of-year": self = .endOfYear(n)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .never: "never"
        case .days(let n): "days:\(n)"
        case .endOfMonth(let n): "end-of-month:\(n)"
        case .endOfYear(let n): "end-of-year:\(n)"
        }
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private static func yearMonth(_ ms: Int64) -> (Int, Int) {
        let parts = utc.dateComponents([.year, .month], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return (parts.year!, parts.month!)
    }

    private static func startOfMonthMs(year: Int, month: Int) -> Int64 {
        let date = utc.date(from: DateComponents(year: year, month: month, day: 1))!
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}
