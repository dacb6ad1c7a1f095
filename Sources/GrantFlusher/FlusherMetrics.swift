import Synchronization

/// Counters the flusher keeps for `/metrics` and benchmarks.
public final class FlusherMetrics: Sendable {
    public let rowsWritten = Atomic<Int>(0)
    public let entriesAcked = Atomic<Int>(0)
    public let batches = Atomic<Int>(0)
    public let errors = Atomic<Int>(0)
    public let backlog = Atomic<Int>(0)
    public let lastBatchMicros = Atomic<Int>(0)
    /// Stale consumers deleted by the sweep (nothing pending, idle past the setting).
    public let consumersRemoved = Atomic<Int>(0)
    /// Entries read but left pending because too few replicas confirmed them (`replicaWait`).
    public let entriesUnreplicated = Atomic<Int>(0)
    /// Half-done stock transfers this flusher's recovery sweep completed (issue 10).
    public let transfersRecovered = Atomic<Int>(0)
    /// Grant-to-PostgreSQL lag in milliseconds.
    public let lagMilliseconds = Histogram(bounds: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000])

    public init() {}
}

/// A fixed-bucket histogram with atomic counters (Prometheus `le` semantics).
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
