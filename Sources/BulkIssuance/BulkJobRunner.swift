import CouponCore
import EventLoop
import Foundation
import PostgresClient
import RedisClient

/// Runs bulk grant jobs on one node: a `BackgroundTask` with its own PostgreSQL and Redis connections
/// takes the lease of a runnable job (queued, or running under an expired lease: its node
/// died), then loops: read the next `batchSize` lines after the checkpoint, decide them in
/// Redis (`BulkGrantBatch`), commit refusals + checkpoint + counters + lease renewal in one
/// transaction (`BulkJobStore.commit`). Every commit is a heartbeat. A crash anywhere re-runs
/// at most the uncommitted batch, whose lines Redis answers as replays: exactly-once.
public final class BulkJobRunner: @unchecked Sendable {  // connections are touched only by the task's thread
    public struct Options: Sendable {
        public var batchSize = 5_000
        /// A lease not renewed for this long is presumed dead and taken over.
        public var leaseSeconds = 10.0
        /// Poll for runnable jobs this often while idle.
        public var pollSeconds = 0.5
        /// Lines per second per node at most (0 = as fast as Redis answers), and the claims-first
        /// cap while the node answers many claims (`BulkPacing`).
        public var pacing = BulkPacing.Limits()
        /// Lines per script call and calls queued in Redis at once (`BulkGrantBatch.run`): how
        /// long a claim may wait behind the job in Redis (≈ calls × lines × 15 µs).
        public var linesPerCall = BulkGrantBatch.defaultLinesPerCall
        public var callsInFlight = BulkGrantBatch.defaultCallsInFlight
        /// While idle, the runner deletes the staged lines of jobs finished this long ago
        /// (`BulkJobStore.purgeFinishedLines`), `purgeBatch` per statement.
        public var linesRetentionSeconds = 3_600.0
        public var purgeBatch = 50_000
        public init() {}
    }

    private let owner: String
    private let conninfo: String
    private let redisDeployment: RedisDeployment
    private let options: Options
    private let log: @Sendable (String, [String: String]) -> Void
    private let task: BackgroundTask
    private var postgres: PostgresConnection?
    private var redis: BlockingRedisConnection?
    private let codes = CouponCodeGenerator()
    /// The node's claims answered so far (monotonic): how busy its claim path is.
    private let claimsAnswered: @Sendable () -> Int

    public init(
        owner: String, conninfo: String, redis: RedisDeployment, options: Options,
        claimsAnswered: @escaping @Sendable () -> Int = { 0 }, log: @escaping @Sendable (String, [String: String]) -> Void
    ) {
        self.claimsAnswered = claimsAnswered
        self.owner = owner
        self.conninfo = conninfo
        self.redisDeployment = redis
        self.options = options
        self.log = log
        let pollMs = Int(options.pollSeconds * 1000)
        task = BackgroundTask(.init(name: "bulk-jobs", pacing: .polling(idleMs: pollMs, errorMs: pollMs, maxErrorMs: pollMs)))
    }

    @discardableResult
    public func start() -> BulkJobRunner {
        task.start({ [self] in try runNextJob() }) { [self] error in
            if let error = error as? RedisError, error.isConnectionLevel { redis = nil }
            if let error = error as? PostgresError, error.isConnectionError { postgres = nil }
            log("bulk_job_error", ["error": "\(error)"])
        }
        return self
    }

    /// Stops after the batch in progress and gives its lease back.
    public func stop() { task.stop() }

    private var isStopped: Bool { task.isStopping }

    /// Sleeps up to `seconds`; false when stopped meanwhile.
    private func pause(_ seconds: Double) -> Bool { task.pause(milliseconds: Int(seconds * 1000)) }

    /// Takes the lease of one runnable job and runs it; with none, deletes a batch of finished
    /// jobs' staged lines. 0 when there was nothing to do.
    private func runNextJob() throws -> Int {
        if postgres?.isUsable != true { postgres = try PostgresConnection(conninfo: conninfo) }
        redis = try BlockingRedisConnection.reusing(redis, or: redisDeployment)
        guard let job = try BulkJobStore.acquire(owner: owner, leaseSeconds: options.leaseSeconds, on: postgres!) else {
            return try BulkJobStore.purgeFinishedLines(
                finishedBefore: options.linesRetentionSeconds, batch: options.purgeBatch, on: postgres!)
        }
        log("bulk_job_started", ["job_id": String(job.id), "done": String(job.done), "total": String(job.total)])
        try run(job, postgres: postgres!, redis: redis!, codes: codes)
        return 1
    }

    /// Runs `job` until it is finished, cancelled, its lease is lost, or the runner stops.
    func run(_ start: BulkJob, postgres: PostgresConnection, redis: BlockingRedisConnection, codes: CouponCodeGenerator) throws {
        var job = start
        var pacing = BulkPacing(limits: options.pacing)
        var phases = BatchPhases()
        defer { log("bulk_job_run_ended", ["job_id": String(job.id), "done": String(job.done)].merging(phases.fields) { $1 }) }
        while job.done < job.total {
            if isStopped {
                try BulkJobStore.release(jobId: job.id, owner: owner, on: postgres)
                return
            }
            var mark = DispatchTime.now().uptimeNanoseconds
            let lines = try BulkJobStore.lines(jobId: job.id, after: job.done, limit: options.batchSize, on: postgres)
            guard !lines.isEmpty else { break }
            phases.add(\.readNanos, since: &mark)
            let outcome: BulkGrantBatch.Outcome
            do {
                outcome = try BulkGrantBatch.run(
                    jobId: job.id, campaignId: job.campaignId, lines: lines, codes: codes, linesPerCall: options.linesPerCall,
                    callsInFlight: options.callsInFlight, on: redis,
                    beforeCall: { count in
                        let now = MonotonicClock.seconds()
                        pacing.observe(claims: claimsAnswered(), now: now)
                        let wait = pacing.delay(sending: count, now: now)
                        if wait > 0 { _ = pause(wait) }  // stopping: the batch finishes unpaced
                    })
                phases.add(\.redisNanos, since: &mark)
            } catch BulkGrantBatch.Failure.unknownCampaign {
                try BulkJobStore.fail(jobId: job.id, owner: owner, error: "campaign \(job.campaignId) is not published to Redis", on: postgres)
                return
            }
            let previousDone = job.done
            job.done = lines.last!.line
            job.granted += Int64(outcome.granted.count)
            for refusal in outcome.refusals { job.refused[refusal.reason, default: 0] += 1 }
            guard let state = try BulkJobStore.commit(
                job, previousDone: previousDone, refusals: outcome.refusals, owner: owner, leaseSeconds: options.leaseSeconds,
                on: postgres)
            else {
                log("bulk_job_lease_lost", ["job_id": String(job.id)])
                return
            }
            phases.add(\.commitNanos, since: &mark)
            phases.batches += 1
            if state != .running {
                log("bulk_job_stopped", ["job_id": String(job.id), "state": state.rawValue])
                return
            }
        }
    }

}

/// Where a run's wall time went (logged when the run ends): reading lines, deciding them in
/// Redis, committing the checkpoint.
struct BatchPhases {
    var batches = 0
    var readNanos: UInt64 = 0
    var redisNanos: UInt64 = 0
    var commitNanos: UInt64 = 0

    mutating func add(_ phase: WritableKeyPath<BatchPhases, UInt64>, since mark: inout UInt64) {
        let now = DispatchTime.now().uptimeNanoseconds
        self[keyPath: phase] += now - mark
        mark = now
    }

    var fields: [String: String] {
        [
            "batches": String(batches), "read_ms": String(readNanos / 1_000_000), "redis_ms": String(redisNanos / 1_000_000),
            "commit_ms": String(commitNanos / 1_000_000),
        ]
    }
}
