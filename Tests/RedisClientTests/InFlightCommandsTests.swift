import Testing
@testable import RedisClient

@Suite struct InFlightCommandsTests {
    @Test func timeoutFollowsTheOldestCommand() {
        var inFlight = InFlightCommands()
        #expect(inFlight.check(now: 0, timeout: 100) == .idle)
        inFlight.sent(at: 10)
        inFlight.sent(at: 50)
        #expect(inFlight.check(now: 20, timeout: 100) == .checkAt(110))
        inFlight.replied()
        #expect(inFlight.check(now: 120, timeout: 100) == .checkAt(150))
        #expect(inFlight.check(now: 150, timeout: 100) == .expired)
        inFlight.replied()
        #expect(inFlight.isEmpty)
        inFlight.replied()
        #expect(inFlight.count == 0)
    }

    @Test func compactsWithoutLosingOrder() {
        var inFlight = InFlightCommands()
        for time in 0..<5000 { inFlight.sent(at: UInt64(time)) }
        for expected in 0..<4000 {
            #expect(inFlight.oldest == UInt64(expected))
            inFlight.replied()
        }
        #expect(inFlight.count == 1000)
        #expect(inFlight.oldest == 4000)
    }

    @Test func backoffDoublesToTheCapAndResets() {
        var backoff = ReconnectBackoff(minMs: 20, maxMs: 100)
        #expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()] == [20, 40, 80, 100, 100])
        backoff.reset()
        #expect(backoff.next() == 20)
    }
}
