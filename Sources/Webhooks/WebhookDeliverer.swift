import EventLoop
import Foundation
import PostgresClient

/// Delivers the webhook outbox (issue 12) from its own threads, so a slow or dead endpoint never
/// touches claims or checkout. One coordinator thread owns the PostgreSQL connection and the
/// `WebhookDispatch` policy: it leases due rows within the policy's allowance (`WebhookStore.lease`,
/// oldest per coupon first), hands them to `WebhookSenders` (up to `concurrency` POSTs at once,
/// one at a time to a failing endpoint), and settles each finished attempt: delivered, retried
/// with backoff, or dead. Every `sweepSeconds` it also marks too-old rows dead and deletes
/// delivered rows past the retention, in bounded batches.
/// At-least-once: a node that dies after a POST but before settling it leaves the row to be
/// re-sent when the lease ends (same `X-Coupond-Delivery` id). Any node may run one; leases
/// (`FOR UPDATE SKIP LOCKED`) keep two from sending a row at once.
public final class WebhookDeliverer: @unchecked Sendable {  // mutable state is touched only by its BackgroundTask
    public struct Options: Sendable {
        public var timeoutMs: Int
        public var expiringScanSeconds: Double
        public var limits: WebhookDispatch.Limits
        /// Delivered rows older than this are deleted (a `coupon.expiring` row only once its coupon has ended).
        public var retentionSeconds: Double
        /// How often the dead-by-age and retention sweeps run.
        public var sweepSeconds: Double
        /// Rows per sweep statement; at most `sweepBatches` statements per sweep.
        public var sweepBatch: Int
        public var sweepBatches: Int

        public init(
            timeoutMs: Int = 2_000, expiringScanSeconds: Double = 60, limits: WebhookDispatch.Limits = .init(),
            retentionSeconds: Double = 7 * 86_400, sweepSeconds: Double = 60, sweepBatch: Int = 1_000, sweepBatches: Int = 10
        ) {
            self.timeoutMs = timeoutMs
            self.expiringScanSeconds = expiringScanSeconds
            self.limits = limits
            self.retentionSeconds = retentionSeconds
            self.sweepSeconds = sweepSeconds
            self.sweepBatch = max(1, sweepBatch)
            self.sweepBatches = max(1, sweepBatches)
        }
    }

    private let conninfo: String
    private let options: Options
    private let log: @Sendable (String, [String: String]) -> Void
    private let thread = BackgroundTask(.init(name: "webhooks", pacing: .polling(idleMs: 20, maxIdleMs: 500), niceness: 10))
    private let senders: WebhookSenders
    private var dispatch: WebhookDispatch
    private var connection: PostgresConnection?
    private var lastScan = Date.distantPast
    private var lastSweep = Date.distantPast

    public init(conninfo: String, options: Options = Options(), log: @escaping @Sendable (String, [String: String]) -> Void) {
        self.conninfo = conninfo
        self.options = options
        self.log = log
        senders = WebhookSenders(count: options.limits.concurrency, timeoutMs: options.timeoutMs)
        dispatch = WebhookDispatch(limits: options.limits)
    }

    @discardableResult
    public func start() -> WebhookDeliverer {
        thread.start({ [self] in try iteration() }, onError: { [self] error in
            connection = nil
            log("webhook_error", ["error": "\(error)"])
        })
        return self
    }

    public func stop() {
        thread.stop()
        senders.stop()
    }

    /// One coordinator turn: settle what finished, sweep when due, lease what the policy allows.
    /// Returns non-zero while anything is in flight, so the thread keeps polling briskly.
    func iteration() throws -> Int {
        let postgres = try connection ?? Self.connect(conninfo)
        connection = postgres
        // While POSTs are in flight, wait for one to finish (at most 100 ms) rather than lease in a busy loop.
        var work = try settle(senders.finished(waitMs: dispatch.inFlight.isEmpty ? 0 : 100), on: postgres)
        if Date().timeIntervalSince(lastScan) >= options.expiringScanSeconds {
            lastScan = Date()
            work += try WebhookStore.enqueueExpiring(on: postgres)
        }
        if Date().timeIntervalSince(lastSweep) >= options.sweepSeconds {
            lastSweep = Date()
            work += try sweep(on: postgres)
        }
        let leaseSeconds = max(5, options.timeoutMs * 2 / 1000 + 5)
        var refused: [Int64] = []
        for delivery in try WebhookStore.lease(dispatch.allowance(now: MonotonicClock.seconds()), leaseSeconds: leaseSeconds, on: postgres) {
            if dispatch.start(delivery: delivery.id, subscription: delivery.subscriptionId, now: MonotonicClock.seconds()) {
                senders.send(delivery)
                work += 1
            } else {
                refused.append(delivery.id)
            }
        }
        try WebhookStore.release(refused, on: postgres)
        return work + (dispatch.inFlight.isEmpty ? 0 : 1)
    }


    /// The coordinator's session commits without waiting for the WAL flush: a lease or a
    /// settlement lost in a PostgreSQL crash only means the row is sent again (at-least-once,
    /// same delivery id), and a flush per settled row would cap delivery at the disk's fsync rate.
    static func connect(_ conninfo: String) throws -> PostgresConnection {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET synchronous_commit = off")
        return connection
    }

    private func settle(_ finished: [WebhookSenders.Finished], on postgres: PostgresConnection) throws -> Int {
        // The policy first, for every attempt: a failed write below must not leak a slot.
        let settlements = finished.map { attempt in
            let delivery = attempt.delivery
            return (delivery, dispatch.finish(
                delivery: delivery.id, attempts: delivery.attempts, ageSeconds: delivery.ageSeconds, outcome: attempt.outcome,
                now: MonotonicClock.seconds()))
        }
        guard !settlements.isEmpty else { return 0 }
        // One transaction per turn. A failure drops the connection; the rows' leases run out and they are sent again.
        try postgres.transaction { postgres in
            try WebhookStore.settle(settlements.map { ($0.0.id, $0.1) }, on: postgres)
        }
        for case (let delivery, .dead(let error)) in settlements {
            log("webhook_dead", ["delivery": String(delivery.id), "subscription": String(delivery.subscriptionId), "error": error])
        }
        return finished.count
    }

    /// Dead by age, then retention: each at most `sweepBatches` statements of `sweepBatch` rows.
    private func sweep(on postgres: PostgresConnection) throws -> Int {
        var work = 0
        for _ in 0..<options.sweepBatches {
            let count = try WebhookStore.expireOld(maxAgeSeconds: options.limits.maxAgeSeconds, batch: options.sweepBatch, on: postgres)
            work += count
            if count < options.sweepBatch { break }
        }
        for _ in 0..<options.sweepBatches {
            let count = try WebhookStore.deleteDelivered(olderThan: options.retentionSeconds, batch: options.sweepBatch, on: postgres)
            work += count
            if count < options.sweepBatch { break }
        }
        return work
    }
}
