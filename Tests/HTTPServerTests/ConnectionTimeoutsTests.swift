import Testing

@testable import HTTPServer

@Suite struct ConnectionTimeoutsTests {
    let ms: UInt64 = 1_000_000

    func machine() -> ConnectionTimeouts {
        ConnectionTimeouts(headerTimeoutNanos: 100 * 1_000_000, idleTimeoutNanos: 1000 * 1_000_000)
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
        #expect(timeouts.update(.readingHead, now: 10 * ms) == .scheduleTimer(deadline: 110 * ms))
        #expect(timeouts.update(.readingHead, now: 50 * ms) == .none)  // more head bytes: same deadline
        #expect(timeouts.timerFired(now: 110 * ms) == .close(.headerReadTimeout))
    }

    @Test func handlerWorkHasNoTimerAndLateFiringRearms() {
        var timeouts = machine()
        _ = timeouts.update(.readingHead, now: 0)
        #expect(timeouts.update(.awaitingHandler, now: 20 * ms) == .none)
        #expect(timeouts.timerFired(now: 100 * ms) == .none)  // stale timer: nothing to do
        #expect(timeouts.update(.idle, now: 300 * ms) == .scheduleTimer(deadline: 1300 * ms))
        // The deadline moves later while a timer is armed: no new timer, it re-arms when it fires.
        _ = timeouts.update(.transferring, now: 900 * ms)
        #expect(timeouts.update(.transferring, now: 1200 * ms) == .none)
        #expect(timeouts.timerFired(now: 1300 * ms) == .scheduleTimer(deadline: 2200 * ms))
        #expect(timeouts.timerFired(now: 2200 * ms) == .close(.idleTimeout))
    }
}

@Suite struct ResponseQueueTests {
    func slot(_ name: String) -> ResponseQueue.Slot {
        .init(response: nil, routePattern: name, method: .GET, startNanos: 0, close: false, http10KeepAlive: false)
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
