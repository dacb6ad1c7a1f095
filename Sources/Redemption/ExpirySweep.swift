import EventLoop
import PostgresClient
import Synchronization

/// Writes what time alone does to coupons, in batches: locks past their TTL are released
/// (`released`, reason `lock_expired`), issued coupons past `valid_until` expire
/// (`expired`). Rows another transaction holds are skipped (the access path settles them
/// itself) and picked up by the next pass.
public enum ExpirySweep {
    static let releaseSQL = """
        WITH due AS (
            SELECT code, campaign_id, order_id, order_amount, shipping_fee, discount, face_value FROM coupons
            WHERE state = 'locked' AND locked_until <= clock_timestamp()
            ORDER BY locked_until LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), released AS (
            UPDATE coupons c SET state = 'issued', order_id = NULL, order_amount = NULL, shipping_fee = NULL,
                   discount = NULL, final_price = NULL, locked_until = NULL
            FROM due WHERE c.code = due.code
        )
        INSERT INTO coupon_events (code, campaign_id, event, at, order_id, order_amount, shipping_fee, discount, face_value, reason)
        SELECT code, campaign_id, 'released', clock_timestamp(), order_id, order_amount, shipping_fee, discount, face_value, 'lock_expired'
        FROM due
        """

    static let expireSQL = """
        WITH due AS (
            SELECT code, campaign_id, face_value FROM coupons
            WHERE state = 'issued' AND valid_until < clock_timestamp()
            ORDER BY valid_until LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), expired AS (
            UPDATE coupons c SET state = 'expired' FROM due WHERE c.code = due.code
        )
        INSERT INTO coupon_events (code, campaign_id, event, at, face_value)
        SELECT code, campaign_id, 'expired', clock_timestamp(), face_value FROM due
        """

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
        try connection.transaction { connection in
            let released = try connection.execute(releaseSQL, [limit]).rowsAffected
            let expired = try connection.execute(expireSQL, [limit]).rowsAffected
            return Outcome(released: released, expired: expired)
        }
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
