/// The timeout part of a connection's lifecycle, as a pure state machine (no clock, no loop).
/// The connection reports its phase after every event; the machine says when to arm the one
/// loop timer and, when it fires, whether to close and why. Deadlines move without
/// rescheduling: a timer that fires early just re-arms for the current deadline.
///
/// - idle: `idleTimeout` from entering the phase (keep-alive between requests);
/// - reading a request: its head within `headerTimeout` and head + body within
///   `requestTimeout`, both from the first report of that request, and once the body has been
///   read for `bodyRateGrace`, at least `minBodyBytesPerSecond` on average since it started;
/// - writing with nothing to read: `idleTimeout` without a byte accepted by the peer;
/// - awaiting a handler: no timer (the server, not the client, is late).
struct ConnectionTimeouts: Sendable {
    struct Limits: Sendable, Equatable {
        var headerTimeout: UInt64
        var requestTimeout: UInt64
        var idleTimeout: UInt64
        /// 0 disables the body rate check.
        var minBodyBytesPerSecond: Int
        var bodyRateGrace: UInt64
    }

    enum Phase: Sendable, Equatable {
        /// Nothing buffered, nothing owed.
        case idle
        /// Some of request number `request`'s head has arrived.
        case readingHead(request: UInt64)
        /// Request number `request`'s head is complete and `received` body bytes have arrived.
        case readingBody(request: UInt64, received: Int)
        /// Output is queued and nothing is being read; `sent` counts every byte written so far.
        case writing(sent: UInt64)
        /// A handler owes a response.
        case awaitingHandler
    }

    enum Reason: Sendable, Equatable {
        case headerReadTimeout
        case requestTimeout
        case bodyTooSlow
        case idleTimeout
        case sendStalled

        /// The client is late with a request: answer 408 if the connection can still write.
        var answersRequestTimeout: Bool {
            switch self {
            case .headerReadTimeout, .requestTimeout, .bodyTooSlow: true
            case .idleTimeout, .sendStalled: false
            }
        }
    }

    enum Action: Sendable, Equatable {
        case none
        /// Cancel any loop timer and schedule one at this monotonic deadline.
        case scheduleTimer(deadline: UInt64)
        case close(Reason)
    }

    private enum State: Sendable, Equatable {
        case unstarted
        case idle(since: UInt64)
        case reading(request: UInt64, since: UInt64, body: BodyProgress?)
        case writing(sent: UInt64, lastProgress: UInt64)
        case awaitingHandler
    }

    private struct BodyProgress: Sendable, Equatable {
        let since: UInt64
        var received: Int
    }

    let limits: Limits
    private var state = State.unstarted
    /// Deadline of the loop timer currently scheduled, if any.
    private(set) var armed: UInt64?

    init(_ limits: Limits) {
        self.limits = limits
    }

    mutating func update(_ phase: Phase, now: UInt64) -> Action {
        switch phase {
        case .idle:
            if case .idle = state { break }
            state = .idle(since: now)
        case .readingHead(let request):
            if case .reading(request, _, _) = state { break }
            state = .reading(request: request, since: now, body: nil)
        case .readingBody(let request, let received):
            if case .reading(request, let since, let body) = state {
                state = .reading(request: request, since: since, body: BodyProgress(since: body?.since ?? now, received: received))
            } else {
                state = .reading(request: request, since: now, body: BodyProgress(since: now, received: received))
            }
        case .writing(let sent):
            if case .writing(sent, _) = state { break }
            state = .writing(sent: sent, lastProgress: now)
        case .awaitingHandler:
            state = .awaitingHandler
        }
        return arm()
    }

    mutating func timerFired(now: UInt64) -> Action {
        armed = nil
        guard let (deadline, reason) = nextDeadline() else { return .none }
        if now >= deadline { return .close(reason) }
        return arm()
    }

    /// The earliest deadline of the current state and what expiring it means.
    func nextDeadline() -> (UInt64, Reason)? {
        switch state {
        case .unstarted, .awaitingHandler:
            return nil
        case .idle(let since):
            return (Self.add(since, limits.idleTimeout), .idleTimeout)
        case .writing(_, let lastProgress):
            return (Self.add(lastProgress, limits.idleTimeout), .sendStalled)
        case .reading(_, let since, let body):
            var earliest = (Self.add(since, limits.requestTimeout), Reason.requestTimeout)
            guard let body else {
                let header = Self.add(since, limits.headerTimeout)
                if header <= earliest.0 { earliest = (header, .headerReadTimeout) }
                return earliest
            }
            if limits.minBodyBytesPerSecond > 0 {
                // The moment the average rate since the body started falls below the minimum.
                let (product, overflow) = UInt64(body.received).multipliedReportingOverflow(by: 1_000_000_000)
                let earned = overflow ? UInt64.max : product / UInt64(limits.minBodyBytesPerSecond)
                let rate = Self.add(body.since, max(limits.bodyRateGrace, earned))
                if rate < earliest.0 { earliest = (rate, .bodyTooSlow) }
            }
            return earliest
        }
    }

    /// Saturating addition: a deadline past the end of time never fires.
    private static func add(_ time: UInt64, _ duration: UInt64) -> UInt64 {
        let (sum, overflow) = time.addingReportingOverflow(duration)
        return overflow ? .max : sum
    }

    private mutating func arm() -> Action {
        guard let (deadline, _) = nextDeadline() else { return .none }
        if let armed, armed <= deadline { return .none }  // fires first, re-arms then
        armed = deadline
        return .scheduleTimer(deadline: deadline)
    }
}
