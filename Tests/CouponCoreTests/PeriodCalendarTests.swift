import Foundation
import Testing

@testable import CouponCore

/// Day, week and stock-day boundaries of the period caps (issue 12), with a fixed clock, for
/// UTC+8, UTC+5:30, UTC−5 with DST (23- and 25-hour days) and a zone whose midnight did not exist.
@Suite struct PeriodCalendarTests {
    static func ms(_ text: String) -> Int64 { RFC3339.parse(text)! }
    static func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }
    static func day(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 { RFC3339.daysFromCivil(year: year, month: month, day: day) }

    @Test(arguments: [
        ("Asia/Shanghai", "2026-03-07T16:00:00Z"),  // UTC+8
        ("Asia/Kolkata", "2026-03-07T18:30:00Z"),  // UTC+5:30
        ("America/New_York", "2026-03-08T05:00:00Z"),  // UTC−5, the day DST starts
        ("UTC", "2026-03-08T00:00:00Z"),
    ])
    func dayStartsAtLocalMidnight(zone name: String, start: String) {
        let zone = Self.zone(name), march8 = Self.day(2026, 3, 8)
        #expect(PeriodCalendar.instant(day: march8, in: zone) == Self.ms(start))
        #expect(PeriodCalendar.localDay(Self.ms(start), in: zone) == march8)
        #expect(PeriodCalendar.localDay(Self.ms(start) - 1, in: zone) == march8 - 1)
    }

    @Test func newYorkDaysAcrossDaylightSavingTime() {
        let zone = Self.zone("America/New_York")
        // Spring forward (2026-03-08 02:00 → 03:00): a 23-hour day.
        let march8 = Self.day(2026, 3, 8)
        #expect(PeriodCalendar.instant(day: march8 + 1, in: zone) - PeriodCalendar.instant(day: march8, in: zone) == 23 * 3_600_000)
        #expect(PeriodCalendar.instant(day: march8 + 1, in: zone) == Self.ms("2026-03-09T04:00:00Z"))
        // Fall back (2026-11-01 02:00 → 01:00): a 25-hour day.
        let november1 = Self.day(2026, 11, 1)
        #expect(PeriodCalendar.instant(day: november1, in: zone) == Self.ms("2026-11-01T04:00:00Z"))
        #expect(PeriodCalendar.instant(day: november1 + 1, in: zone) == Self.ms("2026-11-02T05:00:00Z"))
        // 01:30 happens twice on 2026-11-01: the earlier one (EDT).
        #expect(PeriodCalendar.instant(day: november1, minute: 90, in: zone) == Self.ms("2026-11-01T05:30:00Z"))
        // 02:30 does not happen on 2026-03-08: the release falls at the transition (03:00 EDT).
        #expect(PeriodCalendar.instant(day: march8, minute: 150, in: zone) == Self.ms("2026-03-08T07:00:00Z"))
        // 23:59:59.999 on the 25-hour day is still November 1st.
        #expect(PeriodCalendar.localDay(Self.ms("2026-11-02T04:59:59.999Z"), in: zone) == november1)
    }

    @Test func saoPauloDayWithoutMidnightStartsAtOneOClock() {
        // 2018-11-04: clocks went from 00:00 to 01:00 (UTC−3 → UTC−2).
        let zone = Self.zone("America/Sao_Paulo"), november4 = Self.day(2018, 11, 4)
        #expect(PeriodCalendar.instant(day: november4, in: zone) == Self.ms("2018-11-04T03:00:00Z"))
        #expect(PeriodCalendar.instant(day: november4 - 1, in: zone) == Self.ms("2018-11-03T03:00:00Z"))
        #expect(PeriodCalendar.localDay(Self.ms("2018-11-04T02:59:59.999Z"), in: zone) == november4 - 1)
    }

    @Test func weeksStartOnMonday() {
        let sunday = Self.day(2026, 3, 8), monday = Self.day(2026, 3, 9)
        #expect(PeriodCalendar.week(ofDay: monday) == PeriodCalendar.week(ofDay: sunday) + 1)
        #expect(PeriodCalendar.week(ofDay: Self.day(2026, 3, 2)) == PeriodCalendar.week(ofDay: sunday))
        #expect(PeriodCalendar.week(ofDay: monday + 6) == PeriodCalendar.week(ofDay: monday))
        #expect(PeriodCalendar.week(ofDay: 0) == 0)  // Thursday 1970-01-01
        #expect(PeriodCalendar.week(ofDay: 4) == 1)  // Monday 1970-01-05
        #expect(PeriodCalendar.week(ofDay: -3) == 0)  // Monday 1969-12-29
        #expect(PeriodCalendar.week(ofDay: -4) == -1)
    }

    /// "1,000 a day from 10:00" in New York around the spring-forward day: a stock day runs from
    /// one 10:00 to the next; before 10:00 the previous day's stock is in force.
    @Test func scheduleWithDailyRelease() {
        let zone = Self.zone("America/New_York"), march7 = Self.day(2026, 3, 7)
        let (boundaries, end) = PeriodCalendar.boundaries(fromMs: Self.ms("2026-03-08T12:00:00Z"), days: 2, releaseMinute: 600, in: zone)
        let week = PeriodCalendar.week(ofDay: march7)
        #expect(
            boundaries == [
                .init(startMs: Self.ms("2026-03-07T05:00:00Z"), day: march7, week: week, stockDay: march7 - 1),
                .init(startMs: Self.ms("2026-03-07T15:00:00Z"), day: march7, week: week, stockDay: march7),
                .init(startMs: Self.ms("2026-03-08T05:00:00Z"), day: march7 + 1, week: week, stockDay: march7),
                .init(startMs: Self.ms("2026-03-08T14:00:00Z"), day: march7 + 1, week: week, stockDay: march7 + 1),
                .init(startMs: Self.ms("2026-03-09T04:00:00Z"), day: march7 + 2, week: week + 1, stockDay: march7 + 1),
                .init(startMs: Self.ms("2026-03-09T14:00:00Z"), day: march7 + 2, week: week + 1, stockDay: march7 + 2),
            ])
        #expect(end == Self.ms("2026-03-10T04:00:00Z"))
        #expect(boundaries[3].member == "\(march7 + 1):\(week):\(march7 + 1)")
    }

    @Test func scheduleWithoutReleaseHasOneBoundaryPerDay() {
        let zone = Self.zone("Asia/Kolkata")
        let (boundaries, end) = PeriodCalendar.boundaries(fromMs: Self.ms("2026-03-08T00:00:00Z"), days: 14, releaseMinute: 0, in: zone)
        #expect(boundaries.count == 15)
        #expect(boundaries.first?.startMs == Self.ms("2026-03-06T18:30:00Z"))
        #expect(boundaries.allSatisfy { $0.day == $0.stockDay })
        #expect(zip(boundaries, boundaries.dropFirst()).allSatisfy { $1.startMs - $0.startMs == 86_400_000 && $1.day == $0.day + 1 })
        #expect(end == Self.ms("2026-03-21T18:30:00Z"))
    }

    @Test func capsValidation() throws {
        #expect(PeriodCaps(timeZone: "Asia/Shanghai", userDailyLimit: 1).validationErrors().isEmpty)
        #expect(PeriodCaps(timeZone: "Mars/Olympus", userDailyLimit: 1).validationErrors().map(\.field) == ["time_zone"])
        #expect(PeriodCaps(userDailyLimit: 0, userWeeklyLimit: 1001).validationErrors().map(\.field) == ["user_daily_limit", "user_weekly_limit"])
        #expect(PeriodCaps(userDailyLimit: 1, dailyReleaseMinute: 600).validationErrors().map(\.field) == ["daily_release_at"])
        #expect(PeriodCaps.parseRelease("10:00") == 600)
        #expect(PeriodCaps.parseRelease("23:59") == 1439)
        #expect(PeriodCaps.parseRelease("24:00") == nil)
        #expect(PeriodCaps.parseRelease("9:00") == nil)
        #expect(PeriodCaps(dailyStock: 5, dailyReleaseMinute: 545).releaseText == "09:05")
    }
}
