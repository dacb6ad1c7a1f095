import RiskControl
import Synchronization
import Testing

@Suite struct TokenBucketsTests {
    let second: UInt64 = 1_000_000_000

    @Test func allowsTheBurstThenRefusesWithTheTimeToTheNextToken() {
        var buckets = TokenBuckets<String>(capacity: 10)
        let limit = RateLimit(perSecond: 2, burst: 3)
        let start: UInt64 = 5 * second
        #expect((0..<3).map { _ in buckets.take("u", limit: limit, now: start) } == [.allowed, .allowed, .allowed])
        #expect(buckets.take("u", limit: limit, now: start) == .limited(retryAfterNanos: 500_000_000))
        #expect(buckets.take("u", limit: limit, now: start).retryAfterSeconds == 1)
        // Half a second later one token is back.
        #expect(buckets.take("u", limit: limit, now: start + second / 2) == .allowed)
        #expect(buckets.take("u", limit: limit, now: start + second / 2) == .limited(retryAfterNanos: 500_000_000))
        // Other keys have their own bucket.
        #expect(buckets.take("v", limit: limit, now: start) == .allowed)
    }

    @Test func refusedAttemptsDoNotPushTheRetryFurther() {
        var buckets = TokenBuckets<String>(capacity: 10)
        let limit = RateLimit(perSecond: 1, burst: 1)
        #expect(buckets.take("u", limit: limit, now: second) == .allowed)
        for _ in 0..<100 { _ = buckets.take("u", limit: limit, now: second) }
        #expect(buckets.take("u", limit: limit, now: 2 * second) == .allowed)
    }

    @Test func refundGivesTheTokenBack() {
        var buckets = TokenBuckets<String>(capacity: 10)
        let limit = RateLimit(perSecond: 1, burst: 1)
        #expect(buckets.take("k", limit: limit, now: second) == .allowed)
        #expect(buckets.isLimited("k", now: second) == .limited(retryAfterNanos: second))
        buckets.refund("k", now: second)
        #expect(buckets.isLimited("k", now: second) == .allowed)
        #expect(buckets.take("k", limit: limit, now: second) == .allowed)
    }

    @Test func unlimitedKeepsNoState() {
        var buckets = TokenBuckets<String>(capacity: 10)
        for index in 0..<100 { #expect(buckets.take("u\(index)", limit: .unlimited, now: second) == .allowed) }
        #expect(buckets.count == 0)
    }

    @Test func aFloodOfDistinctKeysStaysWithinCapacityAndFullBucketsAreDropped() {
        var buckets = TokenBuckets<String>(capacity: 100, sweepIntervalNanos: second)
        let limit = RateLimit(perSecond: 10, burst: 2)
        var now = second
        for index in 0..<10_000 {
            _ = buckets.take("flood-\(index)", limit: limit, now: now)
            now += 10_000  // 10 µs apart: 100k distinct keys per second
        }
        #expect(buckets.count == 100)
        // A key being limited is never evicted by the flood.
        var abuse = TokenBuckets<String>(capacity: 4, sweepIntervalNanos: second)
        #expect(abuse.take("abuser", limit: limit, now: second) == .allowed)
        #expect(abuse.take("abuser", limit: limit, now: second) == .allowed)
        for index in 0..<1_000 { _ = abuse.take("other-\(index)", limit: limit, now: second) }
        #expect(abuse.take("abuser", limit: limit, now: second) == .limited(retryAfterNanos: 100_000_000))
        // After a refill period the sweep drops every full bucket.
        abuse.sweep(now: 3 * second)
        #expect(abuse.count == 0)
    }

    @Test func parsesRateAndBurst() {
        #expect(RateLimit(parsing: "5") == RateLimit(perSecond: 5, burst: 10))
        #expect(RateLimit(parsing: "0.5/3") == RateLimit(perSecond: 0.5, burst: 3))
        #expect(RateLimit(parsing: "0")?.isUnlimited == true)
        #expect(RateLimit(parsing: "5/0") == nil)
        #expect(RateLimit(parsing: "-1") == nil)
        #expect(RateLimit(parsing: "x") == nil)
        #expect(RateLimit(parsing: "1/2/3") == nil)
        #expect(RateLimit(perSecond: 5, burst: 10).description == "5/10")
    }

    @Test func sharedLimiterUsesItsClock() {
        let clock = ManualNanoClock()
        let limiter = RateLimiter<String>(capacity: 64, shards: 4, clock: clock)
        let limit = RateLimit(perSecond: 4, burst: 2)
        #expect(limiter.take("a", limit: limit) == .allowed)
        #expect(limiter.take("a", limit: limit) == .allowed)
        #expect(limiter.take("a", limit: limit) == .limited(retryAfterNanos: 250_000_000))
        clock.advance(milliseconds: 250)
        #expect(limiter.take("a", limit: limit) == .allowed)
        #expect(limiter.count == 1)
    }
}

/// A clock that moves only when told to (tests).
final class ManualNanoClock: NanoClock {
    private let nanos: Atomic<UInt64>

    init(_ start: UInt64 = 1_000_000_000) { nanos = Atomic(start) }

    func now() -> UInt64 { nanos.load(ordering: .relaxed) }

    func advance(milliseconds: UInt64) { nanos.add(milliseconds * 1_000_000, ordering: .relaxed) }
}
