import Testing

@testable import CouponCore

@Suite struct ValidityRuleTests {
    let claimedAt: Int64 = 1_795_392_000_000  // 2026-11-23T00:00:00Z

    @Test func relativeCountsFromClaim() {
        let rule = ValidityRule.relative(days: 7)
        let window = rule.window(claimedAtMs: claimedAt + 1234)
        #expect(window.fromMs == claimedAt + 1234)
        #expect(window.untilMs == claimedAt + 1234 + 7 * 86_400_000)
        #expect(RFC3339.format(epochMs: rule.window(claimedAtMs: claimedAt).untilMs) == "2026-11-30T00:00:00Z")
        #expect(rule.isUsable(claimedAtMs: claimedAt, nowMs: claimedAt))
        #expect(rule.isUsable(claimedAtMs: claimedAt, nowMs: claimedAt + 7 * 86_400_000))  // inclusive end
        #expect(!rule.isUsable(claimedAtMs: claimedAt, nowMs: claimedAt + 7 * 86_400_000 + 1))
        #expect(!rule.isUsable(claimedAtMs: claimedAt, nowMs: claimedAt - 1))
    }

    @Test func fixedIgnoresClaim() {
        let from = RFC3339.parse("2026-11-23T00:00:00Z")!
        let until = RFC3339.parse("2026-12-31T23:59:59Z")!
        let rule = ValidityRule.fixed(fromMs: from, untilMs: until)
        #expect(rule.window(claimedAtMs: 0) == (from, until))
        #expect(rule.window(claimedAtMs: until) == (from, until))
        #expect(rule.isUsable(claimedAtMs: 0, nowMs: until))
        #expect(!rule.isUsable(claimedAtMs: 0, nowMs: until + 1))
        #expect(!rule.isUsable(claimedAtMs: 0, nowMs: from - 1))
    }

    @Test func saturatesInsteadOfOverflowing() {
        #expect(ValidityRule.relative(days: 3650).window(claimedAtMs: Int64.max - 5).untilMs == Int64.max)
        #expect(ValidityRule.relative(days: Int.max).window(claimedAtMs: 0).untilMs == Int64.max)
    }

    @Test func validation() {
        #expect(ValidityRule.relative(days: 1).validationErrors().isEmpty)
        #expect(ValidityRule.relative(days: 0).validationErrors() == [ValidationError(field: "validity.days", message: "must be an integer from 1 to 3650")])
        #expect(ValidityRule.relative(days: 3651).validationErrors().count == 1)
        #expect(ValidityRule.fixed(fromMs: 10, untilMs: 10).validationErrors() == [ValidationError(field: "validity.until", message: "must be after from")])
    }
}
