import Testing
import Webhooks

/// The delivery policy without sockets, a database or a clock: slots, the failing endpoint's
/// pause and probe, the retry/dead decision.
@Suite struct WebhookDispatchTests {
    @Test func aHealthyEndpointTakesAllButOneSlot() {
        var dispatch = WebhookDispatch(limits: .init(concurrency: 4))
        #expect(dispatch.allowance(now: 0) == .init(total: 4, perSubscription: 3, overrides: [:]))
        var started: [Bool] = []
        for id in 1...4 { started.append(dispatch.start(delivery: Int64(id), subscription: 7, now: 0)) }
        #expect(started == [true, true, true, false])  // the fourth slot stays for other subscriptions
        started = [dispatch.start(delivery: 3, subscription: 8, now: 0)]  // already in flight
        #expect(started == [false])
        #expect(dispatch.allowance(now: 0) == .init(total: 1, perSubscription: 3, overrides: [7: 0]))
        started = [dispatch.start(delivery: 5, subscription: 8, now: 0), dispatch.start(delivery: 6, subscription: 9, now: 0)]
        #expect(started == [true, false])  // every slot taken
        #expect(dispatch.allowance(now: 0).total == 0)
        let settlement = dispatch.finish(delivery: 1, attempts: 0, ageSeconds: 1, outcome: .accepted, now: 0)
        #expect(settlement == .delivered)
        #expect(dispatch.allowance(now: 0) == .init(total: 1, perSubscription: 3, overrides: [7: 1, 8: 2]))
    }

    @Test func aFailingEndpointPausesThenGetsOneProbeUntilASuccess() {
        var dispatch = WebhookDispatch(limits: .init(concurrency: 8, maxBackoffMs: 2_000))
        for id in 1...3 { _ = dispatch.start(delivery: Int64(id), subscription: 7, now: 10) }
        var settlement = dispatch.finish(delivery: 1, attempts: 0, ageSeconds: 0, outcome: .rejected("HTTP 500"), now: 10)
        #expect(settlement == .retry(afterMs: 500, error: "HTTP 500"))
        #expect(dispatch.endpoints[7] == .failing(inFlight: 2, failures: 1, pausedUntil: 10.5))
        // A POST of the same incident failing within the pause does not lengthen it.
        settlement = dispatch.finish(delivery: 2, attempts: 3, ageSeconds: 0, outcome: .rejected("timeout"), now: 10.2)
        #expect(settlement == .retry(afterMs: 2_000, error: "timeout"))  // the row's own backoff, capped
        #expect(dispatch.endpoints[7] == .failing(inFlight: 1, failures: 1, pausedUntil: 10.5))
        #expect(dispatch.allowance(now: 11).overrides[7] == 0)  // one still in flight
        // One failing after the pause counts: 500 ms · 2 = 1 s.
        settlement = dispatch.finish(delivery: 3, attempts: 0, ageSeconds: 0, outcome: .rejected("refused"), now: 12)
        #expect(dispatch.endpoints[7] == .failing(inFlight: 0, failures: 2, pausedUntil: 13))
        #expect(dispatch.allowance(now: 12.9) == .init(total: 8, perSubscription: 7, overrides: [7: 0]))
        var started = [dispatch.start(delivery: 4, subscription: 7, now: 12.9)]
        #expect(started == [false])  // paused
        #expect(dispatch.allowance(now: 13) == .init(total: 8, perSubscription: 7, overrides: [7: 1]))
        started = [dispatch.start(delivery: 4, subscription: 7, now: 13), dispatch.start(delivery: 5, subscription: 7, now: 13)]
        #expect(started == [true, false])  // one probe at a time
        settlement = dispatch.finish(delivery: 4, attempts: 1, ageSeconds: 0, outcome: .rejected("HTTP 503"), now: 13.5)
        #expect(dispatch.endpoints[7] == .failing(inFlight: 0, failures: 3, pausedUntil: 15.5))  // 500 ms · 2² = 2 s, the cap
        // Another subscription is untouched by the failing one.
        started = (10..<17).map { dispatch.start(delivery: Int64($0), subscription: 8, now: 14) }
        #expect(started == Array(repeating: true, count: 7))
        started = [dispatch.start(delivery: 6, subscription: 7, now: 15.5)]
        #expect(started == [true])
        settlement = dispatch.finish(delivery: 6, attempts: 1, ageSeconds: 0, outcome: .accepted, now: 16)
        #expect(settlement == .delivered)
        #expect(dispatch.endpoints[7] == nil)  // healthy and idle: forgotten
        #expect(dispatch.allowance(now: 16).overrides[7] == nil)
    }

    @Test func deadAfterMaxAttemptsOrMaxAge() {
        let limits = WebhookDispatch.Limits(concurrency: 2, maxAttempts: 5, maxAgeSeconds: 3_600, maxBackoffMs: 60_000)
        #expect(WebhookDispatch.settle(attempts: 3, ageSeconds: 10, outcome: .rejected("HTTP 503"), limits: limits) == .retry(afterMs: 4_000, error: "HTTP 503"))
        #expect(WebhookDispatch.settle(attempts: 4, ageSeconds: 10, outcome: .rejected("HTTP 503"), limits: limits) == .dead(error: "HTTP 503 (after 5 attempts)"))
        #expect(WebhookDispatch.settle(attempts: 0, ageSeconds: 3_600, outcome: .rejected("timeout"), limits: limits) == .dead(error: "timeout (queued 3600 s ago)"))
        #expect(WebhookDispatch.settle(attempts: 40, ageSeconds: 99_999, outcome: .accepted, limits: limits) == .delivered)
        var dispatch = WebhookDispatch(limits: limits)
        _ = dispatch.start(delivery: 1, subscription: 1, now: 0)
        var settlement = dispatch.finish(delivery: 1, attempts: 4, ageSeconds: 0, outcome: .rejected("x"), now: 0)
        #expect(settlement == .dead(error: "x (after 5 attempts)"))
        #expect(dispatch.inFlight.isEmpty)
        // A finish for a row this node never started changes no slot.
        settlement = dispatch.finish(delivery: 99, attempts: 0, ageSeconds: 0, outcome: .accepted, now: 1)
        #expect(settlement == .delivered)
        #expect(dispatch.allowance(now: 1) == .init(total: 2, perSubscription: 1, overrides: [1: 1]))
    }

    @Test func retryDelayDoublesUpToTheCap() {
        #expect(WebhookDispatch.retryDelayMs(attempts: 0, maxMs: 60_000) == 500)
        #expect(WebhookDispatch.retryDelayMs(attempts: 3, maxMs: 60_000) == 4_000)
        #expect(WebhookDispatch.retryDelayMs(attempts: 30, maxMs: 60_000) == 60_000)
        #expect(WebhookDispatch.retryDelayMs(attempts: -1, maxMs: 60_000) == 500)
    }
}
