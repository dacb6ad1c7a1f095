import Synchronization

/// A fixed-bucket histogram behind a lock (Prometheus `le` semantics), shared by threads: request
/// latency, flusher lag, loop turns.
public final class Histogram: Sendable {
    public let bounds: [Int64]
    private struct State {
        var counts: [Int]
        var total = 0
        var sum = 0
    }

    private let state: Mutex<State>

    public init(bounds: [Int64]) {
        self.bounds = bounds
        self.state = Mutex(State(counts: [Int](repeating: 0, count: bounds.count + 1)))
    }

    public func record(_ value: Int64) {
        var index = bounds.count
        for (position, bound) in bounds.enumerated() where value <= bound {
            index = position
            break
        }
        state.withLock {
            $0.counts[index] += 1
            $0.total += 1
            $0.sum += Int(value)
        }
    }

    /// Cumulative counts per bound, then +Inf; and the sum and count.
    public func snapshot() -> (cumulative: [Int], count: Int, sum: Int) {
        let current = state.withLock { $0 }
        var running = 0
        var cumulative: [Int] = []
        for count in current.counts {
            running += count
            cumulative.append(running)
        }
        return (cumulative, current.total, current.sum)
    }
}
