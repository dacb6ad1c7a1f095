import Testing

@testable import HTTPServer

/// The connection's timeouts driven by a mock clock (plain nanosecond values), no sockets.
@Suite struct ConnectionTimeoutsTests {
    let ms: UInt64 = 1_000_000

    /// Header 100 ms, request 300 ms, idle 1000 ms, body at least 1000 B/s after a 50 ms grace.
    func machine(minBodyBytesPerSecond: Int = 1000) -> ConnectionTimeouts {
        ConnectionTimeouts(
            .init(
                headerTimeout: 100 * ms, requestTimeout: 300 * ms, idleTimeout: 1000 * ms,
                minBodyBytesPerSecond: minBodyBytesPerSecond, bodyRateGrace: 50 * ms))
    }

    @Test func idleThenClose() {
        var timeouts = machine()
        #expect(timeouts.update(.idle, now: 0) == .scheduleTimer(deadline: 1000 * ms))
        #expect(timeouts.update(.idle, now: 500 * ms) == .none)  // staying idle keeps the deadline
        #expect(timeouts.timerFired(now: 1000 * ms) == .close(.idleTimeout))
    }

    @Test func headerDeadlineRunsFromFirstByte() {
        var timeouts = machine()
        _ = timeouts.update(.idle, now: 0)
        // An earlier deadline than the armed timer needs a new timer.
        #expect(timeouts.update(.readingHead(request: 0), now: 10 * ms) == .scheduleTimer(deadline: 110 * ms))
        #expect(timeouts.update(.readingHead(request: 0), now: 50 * ms) == .none)  // more head bytes: same deadline
        #expect(timeouts.timerFired(now: 110 * ms) == .close(.headerReadTimeout))
    }

    @Test func handlerWorkHasNoTimerAndLateFiringRearms() {
        var timeouts = machine()
        _ = timeouts.update(.readingHead(request: 0), now: 0)
        #expect(timeouts.update(.awaitingHandler, now: 20 * ms) == .none)
        #expect(timeouts.timerFired(now: 100 * ms) == .none)  // stale timer: nothing to do
        #expect(timeouts.update(.idle, now: 300 * ms) == .scheduleTimer(deadline: 1300 * ms))
        // The deadline moves later while a timer is armed: no new timer, it re-arms when it fires.
        _ = timeouts.update(.writing(sent: 10), now: 900 * ms)
        #expect(timeouts.update(.writing(sent: 20), now: 1200 * ms) == .none)
        #expect(timeouts.timerFired(now: 1300 * ms) == .scheduleTimer(deadline: 2200 * ms))
        #expect(timeouts.timerFired(now: 2200 * ms) == .close(.sendStalled))
    }

    @Test func writingWithoutProgressStalls() {
        var timeouts = machine()
        #expect(timeouts.update(.writing(sent: 0), now: 0) == .scheduleTimer(deadline: 1000 * ms))
        // Reports without a byte written (a never-reading peer) do not extend the deadline.
        #expect(timeouts.update(.writing(sent: 0), now: 600 * ms) == .none)
        #expect(timeouts.update(.writing(sent: 0), now: 900 * ms) == .none)
        #expect(timeouts.timerFired(now: 1000 * ms) == .close(.sendStalled))
        #expect(ConnectionTimeouts.Reason.sendStalled.answersRequestTimeout == false)
    }

    @Test func requestDeadlineCoversHeadAndBody() {
        var timeouts = machine(minBodyBytesPerSecond: 0)
        _ = timeouts.update(.idle, now: 0)
        #expect(timeouts.update(.readingHead(request: 0), now: 10 * ms) == .scheduleTimer(deadline: 110 * ms))
        // Head complete at 90 ms: the header deadline no longer applies, the request deadline does.
        #expect(timeouts.update(.readingBody(request: 0, received: 0), now: 90 * ms) == .none)
        #expect(timeouts.timerFired(now: 110 * ms) == .scheduleTimer(deadline: 310 * ms))
        // One byte at a time keeps arriving: progress does not move the request deadline.
        for step in UInt64(1)...19 {
            #expect(timeouts.update(.readingBody(request: 0, received: Int(step)), now: (110 + step * 10) * ms) == .none)
        }
        #expect(timeouts.timerFired(now: 310 * ms) == .close(.requestTimeout))
        #expect(ConnectionTimeouts.Reason.requestTimeout.answersRequestTimeout)
    }

    @Test func nextRequestGetsItsOwnDeadline() {
        var timeouts = machine(minBodyBytesPerSecond: 0)
        #expect(timeouts.update(.readingBody(request: 0, received: 5), now: 0) == .scheduleTimer(deadline: 300 * ms))
        // Request 0 completed and request 1 began in the same read: a fresh 100 ms head deadline.
        #expect(timeouts.update(.readingHead(request: 1), now: 250 * ms) == .none)
        #expect(timeouts.timerFired(now: 300 * ms) == .scheduleTimer(deadline: 350 * ms))
        #expect(timeouts.timerFired(now: 350 * ms) == .close(.headerReadTimeout))
    }

    @Test func slowBodyFailsTheRateAfterTheGracePeriod() {
        var timeouts = machine()
        // 20 bytes by 10 ms: the rate is checked from 50 ms (grace), when 50 bytes are due.
        #expect(timeouts.update(.readingBody(request: 0, received: 20), now: 10 * ms) == .scheduleTimer(deadline: 60 * ms))
        // 80 bytes earn 80 ms at 1000 B/s from the body's start (10 ms): deadline 90 ms.
        #expect(timeouts.update(.readingBody(request: 0, received: 80), now: 55 * ms) == .none)
        #expect(timeouts.timerFired(now: 60 * ms) == .scheduleTimer(deadline: 90 * ms))
        #expect(timeouts.timerFired(now: 90 * ms) == .close(.bodyTooSlow))
    }

    @Test func fastBodyMeetsTheRateAndTheRequestDeadlineStillHolds() {
        var timeouts = machine()
        _ = timeouts.update(.readingBody(request: 3, received: 0), now: 0)
        #expect(timeouts.update(.readingBody(request: 3, received: 10_000), now: 40 * ms) == .none)
        // 10,000 bytes earn 10 s of rate: the 300 ms request deadline comes first.
        #expect(timeouts.nextDeadline()! == (300 * ms, .requestTimeout))
        #expect(timeouts.timerFired(now: 50 * ms) == .scheduleTimer(deadline: 300 * ms))
    }
}

@Suite struct ResponseQueueTests {
    func slot(_ name: String) -> ResponseQueue.Slot {
        .init(response: nil, routePattern: name, method: .GET, startNanos: 0, close: false, toHEAD: false, http10KeepAlive: false)
    }

    @Test func outOfOrderCompletionLeavesInOrder() {
        var queue = ResponseQueue()
        let a = queue.reserve(slot("a"))
        let b = queue.reserve(slot("b"))
        let c = queue.reserve(slot("c"))
        #expect([a, b, c] == [0, 1, 2])
        var log: [String] = []
        func fill(_ sequence: UInt64, _ status: Int) {
            let accepted = queue.fill(sequence, HTTPResponse(status: status))
            log.append("fill \(sequence) \(status) \(accepted)")
        }
        func pop() {
            let slot = queue.popReady()
            log.append("pop \(slot.map { "\($0.routePattern) \($0.response!.status)" } ?? "nil")")
        }
        fill(c, 203)
        pop()
        fill(a, 201)
        fill(a, 500)  // second answer ignored
        pop()
        pop()
        fill(b, 202)
        pop()
        pop()
        pop()
        fill(b, 500)  // already written
        #expect(
            log == [
                "fill 2 203 true", "pop nil", "fill 0 201 true", "fill 0 500 false", "pop a 201", "pop nil",
                "fill 1 202 true", "pop b 202", "pop c 203", "pop nil", "fill 1 500 false",
            ])
        #expect(queue.count == 0)
        #expect(queue.reserve(slot("d")) == 3)
    }
}
