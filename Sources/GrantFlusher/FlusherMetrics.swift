import EventLoop
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
