import EventLoop
import PostgresClient
import Synchronization

/// Writes what time alone does to coupons, in batches: locks past their TTL are released
/// (`released`, reason `lock_expired`), issued coupons past `valid_until` expire
/// (`expired`). Rows another transaction holds are skipped (the access path settles them
/// itself) and picked up by the next pass.
public enum ExpirySweep {
    public struct Outcome: Sendable, Equatable {
        public var released: Int
        public var expired: Int

        public init(released: Int, expired: Int) {
            self.released = released
            self.expired = expired
        }
    }

    /// One batch of each, in one transaction: releases first, so a lapsed lock past its
    /// window is released and expired in the same pass.
    public static func runBatch(limit: Int, on connection: PostgresConnection) throws -> Outcome {
        try CouponExpiryStore.releaseAndExpire(limit: limit, on: connection)
    }

    /// Batches until one comes back short or `maxBatches` ran; returns the totals.
    public static func run(batchSize: Int = 500, maxBatches: Int = 20, on connection: PostgresConnection) throws -> Outcome {
        var total = Outcome(released: 0, expired: 0)
        for _ in 0..<maxBatches {
            let outcome = try runBatch(limit: batchSize, on: connection)
            total.released += outcome.released
            total.expired += outcome.expired
            if outcome.released < batchSize && outcome.expired < batchSize { break }
        }
        return total
    }
}

/// Runs `ExpirySweep` every `interval` seconds on its own `BackgroundTask` with its own
/// PostgreSQL connection (libpq blocks; never on an event loop or the cooperative pool).
/// Failures are logged and retried on the next pass; totals are counted for metrics.
public final class ExpirySweeper: @unchecked Sendable {  // `connection` is touched only by the task's thread
    private let conninfo: String
    private let log: @Sendable (String, [String: String]) -> Void
    /// Locks released and coupons expired by this sweeper since it started.
    public let released = Atomic<Int>(0)
    public let expired = Atomic<Int>(0)
    private let task: BackgroundTask
    private var connection: PostgresConnection?

    public init(conninfo: String, intervalSeconds: Double = 30, log: @escaping @Sendable (String, [String: String]) -> Void) {
        self.conninfo = conninfo
        self.log = log
        task = BackgroundTask(.init(name: "expiry-sweeper", pacing: .periodic(everyMs: Int(intervalSeconds * 1000))))
    }

    /// Starts the sweeper and returns it (first pass after one interval).
    @discardableResult
    public func start() -> ExpirySweeper {
        task.start({ [self] in try pass() }) { [self] error in
            connection = nil
            log("expiry_sweep_failed", ["error": "\(error)"])
        }
        return self
    }

    /// Stops after the pass in progress, if any, and waits for the thread.
    public func stop() { task.stop() }

    private func pass() throws -> Int {
        if connection?.isUsable != true { connection = try PostgresConnection(conninfo: conninfo) }
        let outcome = try ExpirySweep.run(on: connection!)
        released.add(outcome.released, ordering: .relaxed)
        expired.add(outcome.expired, ordering: .relaxed)
        return outcome.released + outcome.expired
    }
}
