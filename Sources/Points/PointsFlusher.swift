import EventLoop
import Foundation
import Issuance
import PostgresClient
import RedisClient
import Synchronization
import CouponCore

/// The points background thread of a node (README "Points"): moves points events from the
/// buckets' streams into `points_ledger` (the grant flusher's pattern: consumer group `points`,
/// XACK only after COMMIT, idle entries of dead consumers taken over with XAUTOCLAIM; acked
/// entries are deleted, the group is the streams' only reader), runs the expiry sweep (users
/// whose earliest lot is due get their `expire` events), the exchange and draw recovery sweeps,
/// and the rebuild of accounts Redis lost (`PointsRebuild`).
public final class PointsFlusher: @unchecked Sendable {  // mutable state is touched only by its thread; its `BackgroundTask` runs it
    public struct Options: Sendable {
        public var batchSize = 1_000
        public var idleSleepMilliseconds = 25
        public var maxIdleSleepMilliseconds = 400
        public var claimIdleMilliseconds = 30_000
        /// The expiry and recovery sweeps run this often.
        public var sweepSeconds = 1.0
        /// A reservation pending this long is finished by the recovery sweep (the bound on how
        /// long a killed node's exchange stays half done is about grace + sweepSeconds).
        public var recoveryGraceMilliseconds: Int64 = 5_000
        public init() {}
    }

    public let consumer: String
    let options: Options
    private let redisDeployment: RedisDeployment
    private let conninfo: String
    private let thread: BackgroundTask
    let log: @Sendable (String, [String: String]) -> Void
    public let flushed = Atomic<Int>(0)
    public let expiredUsers = Atomic<Int>(0)
    public let recovered = Atomic<Int>(0)
    public let rebuiltUsers = Atomic<Int>(0)

    private var redis: BlockingRedisConnection?
    private var postgres: PostgresConnection?
    private var groupsReady = false
    /// Read this consumer's own pending entries (id 0) before new ones: at start (a restarted
    /// node keeps its name) and after an error between read and ack.
    private var rereadPending = true
    private var drawGroups: Set<String> = []
    private var lastSweep = Date.distantPast
    private var lastAutoclaim = Date.distantPast

    public init(
        consumer: String, deployment: RedisDeployment, postgresConninfo: String, options: Options = Options(),
        log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }
    ) {
        self.consumer = consumer
        self.redisDeployment = deployment
        self.conninfo = postgresConninfo
        self.options = options
        self.log = log
        // Idle polls back off from idleSleepMilliseconds to maxIdleSleepMilliseconds, so an idle
        // node costs next to nothing; any work resets it.
        thread = BackgroundTask(
            .init(name: "points", pacing: .polling(idleMs: options.idleSleepMilliseconds, maxIdleMs: options.maxIdleSleepMilliseconds)))
    }

    public func start() {
        thread.start({ [self] in try runOnce() }) { [self] error in
            // Connections may be dead; what was read and not acked is ours to read again.
            redis = nil
            postgres = nil
            groupsReady = false
            rereadPending = true
            drawGroups.removeAll()
            log("points_flusher_error", ["error": "\(error)"])
        }
    }

    public func stop() { thread.stop() }

    /// One iteration; returns how many entries or sweep items it handled.
    @discardableResult
    public func runOnce() throws -> Int {
        let redis = try connectedRedis()
        let postgres = try connectedPostgres()
        try ensureGroups(redis)
        var handled = 0
        let now = Date()
        if now.timeIntervalSince(lastAutoclaim) >= Double(options.claimIdleMilliseconds) / 2000 {
            lastAutoclaim = now
            for keys in PointsKeys.all { handled += try flush(autoclaim(redis, stream: keys.events), redis: redis, postgres: postgres) }
        }
        // One XREADGROUP per bucket stream (pipelined): each names one slot, as on a cluster.
        let from = rereadPending ? "0" : ">"
        let reads: [[RedisArgument]] = PointsKeys.all.map {
            ["XREADGROUP", "GROUP", .string(PointsKeys.flusherGroup), .string(consumer), "COUNT", .int(Int64(options.batchSize)), "STREAMS",
             .string($0.events), .string(from)]
        }
        var read = 0
        for result in try redis.pipeline(reads) {
            for stream in try result.get().array ?? [] {
                guard let parts = stream.array, parts.count == 2, let name = parts[0].string else { continue }
                read += try flush((name, parts[1].array ?? []), redis: redis, postgres: postgres)
            }
        }
        if rereadPending && read == 0 { rereadPending = false }
        handled += read
        handled += try flushDraws(redis, postgres: postgres, autoclaiming: now == lastAutoclaim)
        if now.timeIntervalSince(lastSweep) >= options.sweepSeconds {
            lastSweep = now
            let rebuilt = try PointsRebuild.run(redis: redis, postgres: postgres)
            if rebuilt.buckets > 0 { log("points_accounts_rebuilt", ["buckets": String(rebuilt.buckets), "users": String(rebuilt.users)]) }
            rebuiltUsers.add(rebuilt.users, ordering: .relaxed)
            handled += try sweepExpiry(redis)
            let finished = try ExchangeRecovery.sweep(redis: redis, olderThanMs: options.recoveryGraceMilliseconds, log: log)
            let prizes = try DrawRecovery.sweepPrizes(redis: redis, olderThanMs: options.recoveryGraceMilliseconds, log: log)
            recovered.add(finished + prizes, ordering: .relaxed)
            handled += finished + prizes
        }
        return handled
    }

    // MARK: Steps

    private func ensureGroups(_ redis: BlockingRedisConnection) throws {
        guard !groupsReady else { return }
        for keys in PointsKeys.all {
            let created = Result { () throws(RedisError) -> RESPValue in
                try redis.command(["XGROUP", "CREATE", .string(keys.events), .string(PointsKeys.flusherGroup), "0", "MKSTREAM"])
            }
            if case .failure(let error) = created, error.serverError?.prefix != .busygroup { throw error }
        }
        groupsReady = true
    }

    private func autoclaim(_ redis: BlockingRedisConnection, stream: String) throws -> (String, [RESPValue]) {
        let reply = try redis.command([
            "XAUTOCLAIM", .string(stream), .string(PointsKeys.flusherGroup), .string(consumer), .int(Int64(options.claimIdleMilliseconds)),
            "0-0", "COUNT", .int(Int64(options.batchSize)),
        ])
        return (stream, reply.array.flatMap { $0.count >= 2 ? $0[1].array : nil } ?? [])
    }

    /// Draw attempts: the same pattern over the streams of the published draws.
    private func flushDraws(_ redis: BlockingRedisConnection, postgres: PostgresConnection, autoclaiming: Bool) throws -> Int {
        let streams = try (redis.command(["SMEMBERS", .string(DrawKeys.registry)]).array ?? []).compactMap {
            $0.string.flatMap(Int64.init).map { DrawKeys(drawId: $0).attempts }
        }
        var handled = 0
        for stream in streams.sorted() {
            if !drawGroups.contains(stream) {
                let created = Result { () throws(RedisError) -> RESPValue in
                    try redis.command(["XGROUP", "CREATE", .string(stream), .string(PointsKeys.flusherGroup), "0", "MKSTREAM"])
                }
                if case .failure(let error) = created, error.serverError?.prefix != .busygroup { throw error }
                drawGroups.insert(stream)
            }
            var batches: [(String, [RESPValue])] = []
            if autoclaiming || rereadPending { batches.append(try autoclaim(redis, stream: stream)) }
            let reply = try redis.command([
                "XREADGROUP", "GROUP", .string(PointsKeys.flusherGroup), .string(consumer), "COUNT", .int(Int64(options.batchSize)), "STREAMS",
                .string(stream), ">",
            ])
            for entry in reply.array ?? [] { if let parts = entry.array, parts.count == 2 { batches.append((stream, parts[1].array ?? [])) } }
            for (name, entries) in batches where !entries.isEmpty {
                guard let drawId = DrawKeys.drawId(ofAttempts: name) else { continue }
                var attempts: [DrawAttempt] = []
                var ids: [RedisArgument] = []
                for entry in entries {
                    guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
                    let fields = RESPValue.fieldMap(parts[1].array ?? [])
                    if let attempt = DrawAttempt(drawId: drawId, streamId: id, fields: fields) { attempts.append(attempt) }
                    ids.append(.string(id))
                }
                try postgres.transaction { try DrawStore.write(attempts, on: $0) }
                _ = try redis.pipeline([
                    ["XACK", .string(name), .string(PointsKeys.flusherGroup)] + ids, ["XDEL", .string(name)] + ids,
                ]).map { try $0.get() }
                handled += entries.count
            }
        }
        return handled
    }

    /// Writes one stream's entries in one transaction, then acks and deletes them.
    private func flush(_ batch: (stream: String, entries: [RESPValue]), redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> Int {
        guard !batch.entries.isEmpty else { return 0 }
        let (events, bad) = PointsEvent.parse(entries: batch.entries)
        if !bad.isEmpty { log("points_bad_entries", ["stream": batch.stream, "ids": bad.joined(separator: ",")]) }
        try postgres.transaction { connection in _ = try PointsLedgerWriter.write(events, on: connection) }
        let ids: [RedisArgument] = (events.map(\.streamId) + bad).map { .string($0) }
        _ = try redis.pipeline([
            ["XACK", .string(batch.stream), .string(PointsKeys.flusherGroup)] + ids,
            ["XDEL", .string(batch.stream)] + ids,
        ]).map { try $0.get() }
        flushed.add(events.count, ordering: .relaxed)
        return batch.entries.count
    }

    /// Expires the due lots of users whose earliest lot is due (`PointsScripts.expire` writes the events).
    private func sweepExpiry(_ redis: BlockingRedisConnection) throws -> Int {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var count = 0
        let due = try redis.pipeline(PointsKeys.all.map { ["ZRANGEBYSCORE", .string($0.due), "-inf", .int(nowMs), "LIMIT", "0", "500"] })
        for (keys, reply) in zip(PointsKeys.all, due) {
            for user in (try reply.get().array ?? []).compactMap(\.string) {
                _ = try redis.evalScript(
                    PointsScripts.expire, keys: [.string(keys.account(user)), .string(keys.due), .string(keys.events), .string(keys.ready)],
                    args: [.string(user)])
                count += 1
            }
        }
        expiredUsers.add(count, ordering: .relaxed)
        return count
    }

    // MARK: Connections

    private func connectedRedis() throws -> BlockingRedisConnection {
        let connection = try BlockingRedisConnection.reusing(redis, or: redisDeployment)
        redis = connection
        return connection
    }

    private func connectedPostgres() throws -> PostgresConnection {
        let connection = try PostgresConnection.durableWriter(reusing: postgres, conninfo: conninfo)
        postgres = connection
        return connection
    }
}
