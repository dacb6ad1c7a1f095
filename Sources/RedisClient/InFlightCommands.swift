/// Send times of the commands awaiting a reply on one connection, oldest first. Redis answers
/// in order, so a reply always retires the oldest. It decides when the command timeout fires;
/// it touches no clock or socket, so tests drive it with made-up times.
struct InFlightCommands {
    private var sentAt: [UInt64] = []
    private var head = 0

    var count: Int { sentAt.count - head }
    var isEmpty: Bool { head == sentAt.count }
    var oldest: UInt64? { isEmpty ? nil : sentAt[head] }

    mutating func sent(at time: UInt64) { sentAt.append(time) }

    mutating func replied() {
        guard !isEmpty else { return }
        head += 1
        if head == sentAt.count {
            sentAt.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= sentAt.count {
            sentAt.removeFirst(head)
            head = 0
        }
    }

    mutating func removeAll() {
        sentAt.removeAll(keepingCapacity: true)
        head = 0
    }

    enum TimeoutCheck: Equatable {
        /// Nothing in flight: no timer needed.
        case idle
        /// Check again at this time.
        case checkAt(UInt64)
        /// The oldest command is overdue: drop the connection.
        case expired
    }

    func check(now: UInt64, timeout: UInt64) -> TimeoutCheck {
        guard let oldest else { return .idle }
        let deadline = oldest &+ timeout
        return now >= deadline ? .expired : .checkAt(deadline)
    }
}

/// Exponential reconnect delays: min, 2×min, 4×min, ... capped at max; `reset()` after a success.
struct ReconnectBackoff {
    let minMs: Int
    let maxMs: Int
    private var currentMs: Int

    init(minMs: Int, maxMs: Int) {
        self.minMs = max(minMs, 1)
        self.maxMs = max(maxMs, self.minMs)
        self.currentMs = self.minMs
    }

    mutating func next() -> Int {
        let delay = currentMs
        currentMs = min(currentMs * 2, maxMs)
        return delay
    }

    mutating func reset() { currentMs = minMs }
}
