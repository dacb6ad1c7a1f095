import Foundation
import Points
import Testing

/// Expiry by policy with a fixed clock (issue 11 must-show "Expiry", unit half).
@Suite struct PointsExpiryPolicyTests {
    /// 2026-03-15T10:20:30Z
    let earned: Int64 = 1_773_570_030_000

    func ms(_ text: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        return Int64(formatter.date(from: text)!.timeIntervalSince1970 * 1000)
    }

    @Test func neverHasNoExpiry() {
        #expect(PointsExpiryPolicy.never.expiryMs(earnedAtMs: earned) == nil)
    }

    @Test func daysAfterEarning() {
        #expect(PointsExpiryPolicy.days(30).expiryMs(earnedAtMs: earned) == earned + 30 * 86_400_000)
    }

    @Test func endOfMonth() {
        #expect(PointsExpiryPolicy.endOfMonth(0).expiryMs(earnedAtMs: earned) == ms("2026-04-01T00:00:00Z"))
        #expect(PointsExpiryPolicy.endOfMonth(1).expiryMs(earnedAtMs: earned) == ms("2026-05-01T00:00:00Z"))
        #expect(PointsExpiryPolicy.endOfMonth(10).expiryMs(earnedAtMs: earned) == ms("2027-02-01T00:00:00Z"))
        // December rolls into the next year.
        #expect(PointsExpiryPolicy.endOfMonth(0).expiryMs(earnedAtMs: ms("2026-12-31T23:59:59Z")) == ms("2027-01-01T00:00:00Z"))
    }

    @Test func endOfYear() {
        // 积分次年年底清零: points earned in 2026 expire at the end of 2027.
        #expect(PointsExpiryPolicy.endOfYear(1).expiryMs(earnedAtMs: earned) == ms("2028-01-01T00:00:00Z"))
        #expect(PointsExpiryPolicy.endOfYear(0).expiryMs(earnedAtMs: ms("2026-01-01T00:00:00Z")) == ms("2027-01-01T00:00:00Z"))
    }

    @Test func settings() {
        #expect(PointsExpiryPolicy(setting: "never") == .never)
        #expect(PointsExpiryPolicy(setting: "days:365") == .days(365))
        #expect(PointsExpiryPolicy(setting: "end-of-month:0") == .endOfMonth(0))
        #expect(PointsExpiryPolicy(setting: "end-of-year:1") == .endOfYear(1))
        #expect(PointsExpiryPolicy(setting: "days:0") == nil)
        #expect(PointsExpiryPolicy(setting: "weeks:2") == nil)
        #expect(PointsExpiryPolicy(setting: "days:-1") == nil)
        #expect(PointsExpiryPolicy.endOfYear(1).description == "end-of-year:1")
    }
}
