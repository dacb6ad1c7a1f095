/// The timeout part of a connection's lifecycle, as a pure state machine (no clock, no loop).
/// The connection reports its phase after every event; the machine says when to arm the one
/// loop timer and, when it fires, whether to close. Deadlines move without rescheduling: a
/// timer that fires early just re-arms for the current deadline.
struct ConnectionTimeouts: Sendable {
    enum Phase: Sendable, Equatable {
        /// Nothing buffered, nothing owed: the idle timeout runs from entering this phase.
        case idle
        /// A request's first byte has arrived, its head is incomplete: header timeout from the first byte.
        case readingHead
        /// Body or output pending: the idle timeout restarts on each report (progress).
        case transferring
        /// A handler owes a response: no timer (the server, not the client, is late).
        case awaitingHandler
    }

    enum Reason: Sendable, Equatable {
        case headerReadTimeout
        case idleTimeout
    }

    enum Action: Sendable, Equatable {
        case none
        /// Cancel any loop timer and schedule one at this monotonic deadline.
        case scheduleTimer(deadline: UInt64)
        case close(Reason)
    }

    let headerTimeout: UInt64
    let idleTimeout: UInt64
    private(set) var phase: Phase?
    private(set) var deadline: UInt64?
    /// Deadline of the loop timer currently scheduled, if any.
    private(set) var armed: UInt64?

    init(headerTimeoutNanos: UInt64, idleTimeoutNanos: UInt64) {
        headerTimeout = headerTimeoutNanos
        idleTimeout = idleTimeoutNanos
    }

    mutating func update(_ newPhase: Phase, now: UInt64) -> Action {
        switch newPhase {
        case .idle: if phase != .idle { deadline = now &+ idleTimeout }
        case .readingHead: if phase != .readingHead { deadline = now &+ headerTimeout }
        case .transferring: deadline = now &+ idleTimeout
        case .awaitingHandler: deadline = nil
        }
        phase = newPhase
        return arm()
    }

    mutating func timerFired(now: UInt64) -> Action {
        armed = nil
        guard let deadline else { return .none }
        if now >= deadline {
            return .close(phase == .readingHead ? .headerReadTimeout : .idleTimeout)
        }
        return arm()
    }

    private mutating func arm() -> Action {
        guard let deadline else { return .none }
        if let armed, armed <= deadline { return .none }  // fires first, re-arms then
        armed = deadline
        return .scheduleTimer(deadline: deadline)
    }
}
