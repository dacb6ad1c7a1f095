import Testing
import Webhooks

/// The delivery policy without sockets or a database: slots, the failing-endpoint probe, the
/// retry/dead decision.
@Suite struct WebhookDispatchTests {
    @Test func aHealthyEndpointTakesAllButOneSlot() {
        var dispatch = WebhookDispatch(limits: .init(concurrency: 4))
        #expect(dispatch.allowance() == .init(total: 4, perSubscription: 3, overrides: [:]))
        do { let result = dispatch.start(delivery: 1, subscription: 7); #expect(result) }
        do { let result = dispatch.start(delivery: 2, subscription: 7); #expect(result) }
        do { let result = dispatch.start(delivery: 3, subscription: 7); #expect(result) }
        do { let result = dispatch.start(delivery: 4, subscription: 7); #expect(!result) }  // the fourth slot stays for others
        do { let result = dispatch.start(delivery: 3, subscription: 8); #expect(!result) }  // already in flight
        #expect(dispatch.allowance() == .init(total: 1, perSubscription: 3, overrides: [7: 0]))
        do { let result = dispatch.start(delivery: 5, subscription: 8); #expect(result) }
        do { let result = dispatch.start(delivery: 6, subscription: 9); #expect(!result) }  // every slot taken
        #expect(dispatch.allowance().total == 0)
        do { let result = dispatch.finish(delivery: 1, attempts: 0, ageSeconds: 1, outcome: .accepted); #expect(result == .delivered) }
        #expect(dispatch.allowance() == .init(total: 1, perSubscription: 3, overrides: [7: 1, 8: 2]))
    }

    @Test func aFailingEndpointGetsOneProbeUntilASuccess() {
        var dispatch = WebhookDispatch(limits: .init(concurrency: 8, maxBackoffMs: 60_000))
        for id in 1...3 { let result = dispatch.start(delivery: Int64(id), subscription: 7); #expect(result) }
        do { let result = dispatch.finish(delivery: 1, attempts: 0, ageSeconds: 0, outcome: .rejected("HTTP 500")); #expect(result == .retry(afterMs: 500, error: "HTTP 500")) }
        #expect(dispatch.endpoints[7] == .failing(inFlight: 2, failures: 1))
        #expect(dispatch.allowance().overrides[7] == 0)  // two still in flight: no probe yet
        do { let result = dispatch.start(delivery: 4, subscription: 7); #expect(!result) }
        do { let result = dispatch.finish(delivery: 2, attempts: 3, ageSeconds: 0, outcome: .rejected("timeout")); #expect(result == .retry(afterMs: 4_000, error: "timeout")) }
        do { let result = dispatch.finish(delivery: 3, attempts: 0, ageSeconds: 0, outcome: .rejected("refused")); #expect(result == .retry(afterMs: 500, error: "refused")) }
        #expect(dispatch.endpoints[7] == .failing(inFlight: 0, failures: 3))
        #expect(dispatch.allowance() == .init(total: 8, perSubscription: 7, overrides: [7: 1]))
        do { let result = dispatch.start(delivery: 4, subscription: 7); #expect(result) }
        do { let result = dispatch.start(delivery: 5, subscription: 7); #expect(!result) }
        // Another subscription is untouched by the failing one.
        for id in 10..<17 { let result = dispatch.start(delivery: Int64(id), subscription: 8); #expect(result) }
        do { let result = dispatch.finish(delivery: 4, attempts: 1, ageSeconds: 0, outcome: .accepted); #expect(result == .delivered) }
        #expect(dispatch.endpoints[7] == nil)  // healthy and idle: forgotten
        #expect(dispatch.allowance().overrides[7] == nil)
    }

    @Test func deadAfterMaxAttemptsOrMaxAge() {
        let limits = WebhookDispatch.Limits(concurrency: 2, maxAttempts: 5, maxAgeSeconds: 3_600, maxBackoffMs: 60_000)
        #expect(WebhookDispatch.settle(attempts: 3, ageSeconds: 10, outcome: .rejected("HTTP 503"), limits: limits) == .retry(afterMs: 4_000, error: "HTTP 503"))
        #expect(WebhookDispatch.settle(attempts: 4, ageSeconds: 10, outcome: .rejected("HTTP 503"), limits: limits) == .dead(error: "HTTP 503 (after 5 attempts)"))
        #expect(WebhookDispatch.settle(attempts: 0, ageSeconds: 3_600, outcome: .rejected("timeout"), limits: limits) == .dead(error: "timeout (queued 3600 s ago)"))
        #expect(WebhookDispatch.settle(attempts: 40, ageSeconds: 99_999, outcome: .accepted, limits: limits) == .delivered)
        var dispatch = WebhookDispatch(limits: limits)
        do { let result = dispatch.start(delivery: 1, subscription: 1); #expect(result) }
        do { let result = dispatch.finish(delivery: 1, attempts: 4, ageSeconds: 0, outcome: .rejected("x")); #expect(result == .dead(error: "x (after 5 attempts)")) }
        #expect(dispatch.inFlight.isEmpty)
        // A finish for a row this node never started (e.g. after a restart) changes no slot.
        do { let result = dispatch.finish(delivery: 99, attempts: 0, ageSeconds: 0, outcome: .accepted); #expect(result == .delivered) }
        #expect(dispatch.allowance() == .init(total: 2, perSubscription: 1, overrides: [1: 1]))
    }

    @Test func retryDelayDoublesUpToTheCap() {
        #expect(WebhookDispatch.retryDelayMs(attempts: 0, maxMs: 60_000) == 500)
        #expect(WebhookDispatch.retryDelayMs(attempts: 3, maxMs: 60_000) == 4_000)
        #expect(WebhookDispatch.retryDelayMs(attempts: 30, maxMs: 60_000) == 60_000)
        #expect(WebhookDispatch.retryDelayMs(attempts: -1, maxMs: 60_000) == 500)
    }
}
