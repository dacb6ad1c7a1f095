import Foundation

/// The periods of a campaign's caps (issue 12) in its IANA time zone: local days (midnight to
/// midnight, 23 or 25 hours across DST), ISO weeks (Monday first) and stock days (from one daily
/// release to the next). Pure arithmetic over `TimeZone` offsets; the claim script never sees a
/// time zone: the node publishes the boundaries (`boundaries`) and the script picks the one in
/// force at Redis `TIME`.
public enum PeriodCalendar {
    static let msPerDay: Int64 = 86_400_000

    /// From `startMs` until the next boundary: local day `day` (days since 1970-01-01 of the
    /// local date), ISO week `week`, and the stock day `stockDay` (the local day of the latest
    /// daily release; `day - 1` before today's release).
    public struct Boundary: Sendable, Equatable, CustomStringConvertible {
        public let startMs: Int64
        public let day: Int64
        public let week: Int64
        public let stockDay: Int64

        public init(startMs: Int64, day: Int64, week: Int64, stockDay: Int64) {
            self.startMs = startMs
            self.day = day
            self.week = week
            self.stockDay = stockDay
        }

        /// The member the claim script reads: `day:week:stockDay`.
        public var member: String { "\(day):\(week):\(stockDay)" }
        public var description: String { "\(RFC3339.format(epochMs: startMs)) \(member)" }
    }

    /// The member marking the end of a published schedule: past it the script refuses to guess.
    public static let endMember = "end"

    /// The local day of `epochMs` in `zone`.
    public static func localDay(_ epochMs: Int64, in zone: TimeZone) -> Int64 {
        floorDiv(localMs(epochMs, in: zone), msPerDay)
    }

    /// ISO week number of a local day, counted from the week of 1969-12-29 (a Monday): Monday
    /// starts a week. 1970-01-01 (day 0) was a Thursday.
    public static func week(ofDay day: Int64) -> Int64 { floorDiv(day + 3, 7) }

    /// The first instant of local day `day` at `minute` minutes after midnight: the earlier one
    /// when the local time occurs twice (DST ends), the first instant after the gap when it does
    /// not occur (DST starts at that time).
    public static func instant(day: Int64, minute: Int = 0, in zone: TimeZone) -> Int64 {
        let local = day * msPerDay + Int64(minute) * 60_000
        let offsets = [offsetMs(local - msPerDay, in: zone), offsetMs(local + msPerDay, in: zone)]
        let valid = offsets.map { local - $0 }.filter { localMs($0, in: zone) == local }
        if let earliest = valid.min() { return earliest }
        // A gap: the local time does not exist; the day (or the release) starts at the transition.
        let before = local - offsets.max()!
        guard let transition = zone.nextDaylightSavingTimeTransition(after: date(before - 1)) else { return before }
        return Int64((transition.timeIntervalSince1970 * 1000).rounded())
    }

    /// The boundaries from the start of the local day before `fromMs`'s through `days` further
    /// days, in order, each starting where the previous ends; the last one is followed by the
    /// start of the day after, returned as `endMs`. `releaseMinute` is the daily release (minutes
    /// after local midnight; 0 = at midnight, when stock days are local days).
    public static func boundaries(fromMs: Int64, days: Int, releaseMinute: Int, in zone: TimeZone) -> (boundaries: [Boundary], endMs: Int64) {
        let first = localDay(fromMs, in: zone) - 1
        var result: [Boundary] = []
        for day in first..<(first + Int64(days) + 1) {
            let start = instant(day: day, in: zone)
            let week = week(ofDay: day)
            guard releaseMinute > 0 else {
                result.append(Boundary(startMs: start, day: day, week: week, stockDay: day))
                continue
            }
            result.append(Boundary(startMs: start, day: day, week: week, stockDay: day - 1))
            let release = instant(day: day, minute: releaseMinute, in: zone)
            if release == start { result.removeLast() }
            result.append(Boundary(startMs: release, day: day, week: week, stockDay: day))
        }
        return (result, instant(day: first + Int64(days) + 1, in: zone))
    }

    static func localMs(_ epochMs: Int64, in zone: TimeZone) -> Int64 { epochMs + offsetMs(epochMs, in: zone) }

    static func offsetMs(_ epochMs: Int64, in zone: TimeZone) -> Int64 { Int64(zone.secondsFromGMT(for: date(epochMs))) * 1000 }

    static func date(_ epochMs: Int64) -> Date { Date(timeIntervalSince1970: Double(epochMs) / 1000) }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}
