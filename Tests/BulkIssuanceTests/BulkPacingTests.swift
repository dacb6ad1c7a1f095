import Testing

@testable import BulkIssuance

/// The bulk job's pacing with a given clock: unpaced while the node's claims are few, the
/// claims-first cap while they are many (measured over windows), the fixed cap always.
@Suite struct BulkPacingTests {
    static func limits(max: Int = 0, yield: Int = 5_000, above: Int = 500) -> BulkPacing.Limits {
        var limits = BulkPacing.Limits()
        limits.maxLinesPerSecond = max
        limits.yieldLinesPerSecond = yield
        limits.yieldAboveClaimsPerSecond = above
        return limits
    }

    @Test func noClaimsNoCapMeansNoWait() {
        var pacing = BulkPacing(limits: Self.limits())
        pacing.observe(claims: 0, now: 0)
        pacing.observe(claims: 10, now: 1)  // 10 claims/s: below 500
        #expect(pacing.linesPerSecond == 0)
        #expect((0..<10).allSatisfy { pacing.delay(sending: 500, now: 1 + Double($0) * 0.001) == 0 })
    }

    @Test func manyClaimsYieldToTheCapAndFewAgainLiftIt() {
        var pacing = BulkPacing(limits: Self.limits())
        pacing.observe(claims: 0, now: 0)
        pacing.observe(claims: 100, now: 0.1)  // window not complete yet: no rate
        #expect(pacing.linesPerSecond == 0)
        pacing.observe(claims: 600, now: 0.5)  // 600 in 0.5 s = 1,200/s
        #expect(pacing.claimsPerSecond == 1_200)
        #expect(pacing.linesPerSecond == 5_000)
        // 500-line calls at 5,000/s: one per 100 ms.
        #expect(pacing.delay(sending: 500, now: 0.5) == 0)
        #expect(abs(pacing.delay(sending: 500, now: 0.5) - 0.1) < 1e-9)
        #expect(abs(pacing.delay(sending: 500, now: 0.55) - 0.15) < 1e-9)
        // The sale calms down (100 claims over the next second): no cap, no wait.
        pacing.observe(claims: 700, now: 1.5)
        #expect(pacing.claimsPerSecond == 100)
        #expect(pacing.delay(sending: 500, now: 1.5) == 0)
    }

    @Test func theFixedCapHoldsAlwaysAndTheLowerOneWins() {
        var capped = BulkPacing(limits: Self.limits(max: 1_000))
        #expect(capped.linesPerSecond == 1_000)
        #expect(capped.delay(sending: 500, now: 10) == 0)
        #expect(abs(capped.delay(sending: 500, now: 10) - 0.5) < 1e-9)
        var both = BulkPacing(limits: Self.limits(max: 8_000, yield: 2_000))
        both.observe(claims: 0, now: 0)
        both.observe(claims: 1_000, now: 1)
        #expect(both.linesPerSecond == 2_000)
        var neverYields = BulkPacing(limits: Self.limits(yield: 0))
        neverYields.observe(claims: 0, now: 0)
        neverYields.observe(claims: 100_000, now: 1)
        #expect(neverYields.linesPerSecond == 0)
    }
}
