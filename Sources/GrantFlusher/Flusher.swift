import EventLoop
import Foundation
import Issuance
import PostgresClient
import RedisClient
import Synchronization

/// Moves grants from the campaigns' Redis streams into PostgreSQL (ARCHITECTURE §4). It runs on its
/// own thread with a blocking Redis connection and its own PostgreSQL connection, as consumer
/// `consumer` of group `flushers`. Delivery is at-least-once — XACK only after COMMIT — and the
/// unique coupon code makes the effect exactly-once. It never trims an entry that is pending
/// or not yet delivered.
///
/// Its cost does not grow with the number of campaigns: it reads only streams named in the
/// dirty set (`GrantHints.dirtyCampaigns`, written by granting nodes) and keeps reading a
/// stream until it is drained. A slow sweep over every published campaign (`FlusherSweep`,
/// a slice at a time) is the safety net: it finds entries whose hint was lost, takes over
/// entries left pending by dead consumers, trims, and deletes stale consumers.
public final class Flusher: @unchecked Sendable {  // mutable state is touched only by the flusher thread; its `BackgroundTask` runs it
    public struct Options: Sendable {
        public var batchSize = 1_000
        /// Entries read per stream while a read came back full (a backlog: a bulk job's burst, a
        /// flusher catching up): fewer round trips and commits per grant, which matters most when
        /// the niced flusher thread waits for a CPU after every one of them.
        public var backlogBatchSize = 5_000
        /// Sleep between polls of the dirty set while there is nothing to do.
        public var blockMilliseconds = 50
        /// Entries idle this long in another consumer's pending list are taken over (XAUTOCLAIM min-idle).
        public var claimIdleMilliseconds = 30_000
        /// Every published campaign's stream is swept once per this period (0: every iteration).
        public var sweepSeconds = 30.0
        /// A slice of the sweep runs this often; slices are sized so a sweep takes `sweepSeconds`.
        public var sweepSliceSeconds = 1.0
        /// Streams flushed since the last trim are trimmed this often.
        public var trimEverySeconds = 1.0
        /// Consumers with nothing pending and idle this long are deleted (XGROUP DELCONSUMER).
        public var staleConsumerMilliseconds = 600_000
        /// The flusher thread's nice value (issue 15, tail isolation): above the claim loops'
        /// 0, so when the cores are busy the scheduler gives the loops the CPU first and the
        /// flusher's batches wait instead of claims. Raising it needs no privilege; 0 keeps
        /// the process' priority.
        public var niceness: Int32 = 10
        /// Sharded campaigns (issue 10): half-done stock transfers are completed by this
        /// flusher's recovery sweep (`StockTransferRecovery`) this often (0: never), once
        /// debited more than `transferGraceMilliseconds` ago.
        public var transferRecoverySeconds = 1.0
        public var transferGraceMilliseconds = StockTransferRecovery.defaultGraceMs
        /// `--redis-wait-replicas` (issue 10 §2): when set, a batch is committed only once this
        /// many replicas of the master it was read from have it (`ReplicatedBatch`); nil: at once.
        public var replicaWait: ReplicaWait?
        /// Test hook: called after COMMIT and before XACK; throwing simulates a crash there.
        public var afterCommit: (@Sendable ([GrantEntry]) throws -> Void)?

        public init() {}
    }

    public let consumer: String
    public let metrics = FlusherMetrics()
    let options: Options
    private let redisDeployment: RedisDeployment
    private let conninfo: String
    private let thread: BackgroundTask
    let log: @Sendable (String, [String: String]) -> Void

    private var redis: BlockingRedisConnection?
    private var postgres: PostgresConnection?
    /// Streams to read new entries from until a read comes back empty.
    var active: Set<String> = []
    /// Streams whose own pending entries must be read again (after an error mid-batch).
    var history: Set<String> = []
    /// Streams flushed since the last trim.
    var touched: Set<String> = []
    /// Streams whose group this flusher has made sure of.
    var knownGroups: Set<String> = []
    var sweep = SweepCursor()
    /// The unflushed count per stream as last seen; `metrics.backlog` is their sum.
    var backlogByStream: [String: Int] = [:]
    /// The floor each stream was last trimmed to by the sweep (so an idle stream is trimmed once).
    var trimmedBelow: [String: StreamID] = [:]
    var lastTrim = Date.distantPast
    /// Entries per stream the next read of active streams asks for: `batchSize`, or
    /// `backlogBatchSize` after a read that came back full.
    var readCount: Int?
    var lastTransferRecovery = Date.distantPast
    /// Shard counts of campaigns seen (immutable per campaign); a sharded campaign has one
    /// grant stream per shard, all read like any other stream.
    var shardCounts: [Int64: Int] = [:]

    public convenience init(
        consumer: String, redis: RedisEndpoint, postgresConninfo: String, options: Options = Options(),
        log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }
    ) {
        self.init(consumer: consumer, deployment: .standalone(redis), postgresConninfo: postgresConninfo, options: options, log: log)
    }

    /// On Redis Cluster (`deployment` = `.cluster`), every Redis command goes to the master
    /// owning its stream (one blocking connection per master): reads are pipelined per master,
    /// the dirty set and the registry are single keys on whichever master owns them.
    public init(
        consumer: String, deployment: RedisDeployment, postgresConninfo: String, options: Options = Options(),
        log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }
    ) {
        self.consumer = consumer
        self.redisDeployment = deployment
        self.conninfo = postgresConninfo
        self.options = options
        self.log = log
        thread = BackgroundTask(.init(name: "flusher", pacing: .polling(idleMs: options.blockMilliseconds), niceness: options.niceness))
    }

    /// Starts the flusher thread.
    public func start() {
        thread.start({ [self] in try runOnce() }) { [self] error in
            metrics.errors.add(1, ordering: .relaxed)
            log("flusher_error", ["error": "\(error)"])
        }
    }

    /// Stops after the current batch and waits for the thread.
    public func stop() { thread.stop() }

    /// One iteration: take the dirty hints, re-read own pending entries after an error, run a
    /// sweep slice when due, read and flush new entries of active streams, trim. Never blocks
    /// waiting for entries. Returns how many entries it handled.
    @discardableResult
    public func runOnce() throws -> Int {
        do {
            return try iterate()
        } catch {
            // Connections may be dead; whatever was read and not acked is ours to read again.
            redis = nil
            postgres = nil
            history.formUnion(active)
            history.formUnion(touched)
            knownGroups.removeAll()  // Redis may have lost them
            throw error
        }
    }

    private func iterate() throws -> Int {
        let redis = try connectedRedis()
        let postgres = try connectedPostgres()
        let now = Date()
        var handled = 0
        try takeHints(redis)
        if !history.isEmpty {
            let streams = history.sorted()
            let entries = try read(redis, streams: streams, ids: streams.map { _ in "0" })
            if entries.isEmpty { history.removeAll() } else { handled += try flush(entries, redis: redis, postgres: postgres) }
        }
        handled += try sweepSliceIfDue(redis, postgres: postgres, now: now)
        if !active.isEmpty {
            let streams = active.sorted()
            let count = readCount ?? options.batchSize
            let entries = try read(redis, streams: streams, ids: streams.map { _ in ">" }, count: count)
            let full = Dictionary(grouping: entries, by: \.stream).values.contains { $0.count >= count }
            readCount = full ? max(options.batchSize, options.backlogBatchSize) : nil
            let fed = Set(entries.map(\.stream))
            active = active.intersection(fed)  // a stream that gave nothing is drained
            if !entries.isEmpty { handled += try flush(entries, redis: redis, postgres: postgres) }
        }
        if options.transferRecoverySeconds > 0 && now.timeIntervalSince(lastTransferRecovery) >= options.transferRecoverySeconds {
            lastTransferRecovery = now
            let completed = try StockTransferRecovery.sweep(on: redis, graceMs: options.transferGraceMilliseconds)
            if completed > 0 {
                metrics.transfersRecovered.add(completed, ordering: .relaxed)
                log("stock_transfers_recovered", ["count": String(completed)])
            }
        }
        if now.timeIntervalSince(lastTrim) >= options.trimEverySeconds && !touched.isEmpty {
            try trim(redis, streams: touched.sorted())
            touched.removeAll()
            lastTrim = now
        }
        return handled
    }

    // MARK: Steps

    /// Moves campaign ids from the dirty set into `active` (SPOP: each hint goes to one flusher).
    private func takeHints(_ redis: BlockingRedisConnection) throws {
        let reply = try redis.command(["SPOP", .string(GrantHints.dirtyCampaigns), .int(Int64(options.batchSize))])
        let ids = (reply.array ?? []).compactMap { $0.string.flatMap(Int64.init) }
        for stream in try streams(of: ids, redis) {
            try ensureGroup(redis, stream: stream)
            active.insert(stream)
        }
    }

    /// The grant streams of a campaign: one per shard (`CampaignShards`; one when unsharded).
    /// Campaigns Redis does not know read as one stream (asked again next time).
    func streams(of campaignIds: [Int64], _ redis: BlockingRedisConnection) throws -> [String] {
        let unknown = campaignIds.filter { shardCounts[$0] == nil }
        if !unknown.isEmpty { shardCounts.merge(try CampaignShards.counts(campaignIds: unknown, on: redis)) { $1 } }
        return campaignIds.flatMap { id in
            let count = shardCounts[id] ?? 1
            return count == 1 ? [CampaignKeys(campaignId: id).grants] : CampaignShards.keys(campaignId: id, count: count).map(\.grants)
        }
    }

    /// Creates the group once per stream and flusher run (BUSYGROUP: it exists).
    func ensureGroup(_ redis: BlockingRedisConnection, stream: String) throws {
        guard !knownGroups.contains(stream) else { return }
        let created = Result { () throws(RedisError) -> RESPValue in
            try redis.command(["XGROUP", "CREATE", .string(stream), .string(CampaignKeys.flusherGroup), "0", "MKSTREAM"])
        }
        if case .failure(let error) = created, error.serverError?.prefix != .busygroup { throw error }
        knownGroups.insert(stream)
    }

    /// One `XREADGROUP` per stream, pipelined (one round trip per Redis master): a command never
    /// names keys of two campaigns, so `CROSSSLOT` cannot happen on Redis Cluster, and on a
    /// cluster each master's streams are read with that master's connection.
    func read(_ redis: BlockingRedisConnection, streams: [String], ids: [String], count: Int? = nil) throws -> [GrantEntry] {
        let commands = zip(streams, ids).map { readCommand(stream: $0, id: $1, count: count ?? options.batchSize) }
        var entries: [GrantEntry] = []
        for (index, result) in try redis.pipeline(commands).enumerated() {
            if case .failure(let error) = result, error.serverError?.prefix == .nogroup {
                // The stream or its group vanished (Redis lost data, or the key was deleted): recreate, read once more.
                knownGroups.remove(streams[index])
                try ensureGroup(redis, stream: streams[index])
                entries += GrantEntry.parse(readReply: try redis.command(commands[index]))
            } else {
                entries += GrantEntry.parse(readReply: try result.get())
            }
        }
        return entries
    }

    private func readCommand(stream: String, id: String, count: Int) -> [RedisArgument] {
        [
            "XREADGROUP", "GROUP", .string(CampaignKeys.flusherGroup), .string(consumer), "COUNT", .int(Int64(count)),
            "STREAMS", .string(stream), .string(id),
        ]
    }

    func autoclaim(_ redis: BlockingRedisConnection, stream: String) throws -> [GrantEntry] {
        guard let campaignId = CampaignKeys.campaignId(ofGrantStream: stream) else { return [] }
        var cursor = "0-0"
        var taken: [GrantEntry] = []
        repeat {
            let reply = try redis.command([
                "XAUTOCLAIM", .string(stream), .string(CampaignKeys.flusherGroup), .string(consumer),
                .int(Int64(options.claimIdleMilliseconds)), .string(cursor), "COUNT", .int(Int64(options.batchSize)),
            ])
            guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let entries = parts[1].array else { break }
            taken += GrantEntry.parse(entries: entries, stream: stream, campaignId: campaignId)
            cursor = next
        } while cursor != "0-0" && taken.count < options.batchSize
        if !taken.isEmpty { log("flusher_claimed", ["stream": stream, "entries": String(taken.count)]) }
        return taken
    }

    /// Writes `entries` in one transaction, then acks them; returns how many. With
    /// `replicaWait`, only the entries the replicas confirmed (the others stay pending).
    func flush(_ batch: [GrantEntry], redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> Int {
        let entries = try replicated(batch, redis: redis)
        guard !entries.isEmpty else { return 0 }
        let grants = entries.compactMap(\.grant)
        let started = Date()
        let inserted = try postgres.transaction { connection in
            try GrantWriter.write(grants, on: connection)
        }
        try options.afterCommit?(entries)
        var byStream: [String: [String]] = [:]
        for entry in entries { byStream[entry.stream, default: []].append(entry.streamId) }
        for (stream, ids) in byStream.sorted(by: { $0.key < $1.key }) {
            _ = try redis.command(
                ["XACK", .string(stream), .string(CampaignKeys.flusherGroup)] + ids.map { .string($0) })
            touched.insert(stream)
        }
        // The grants are in PostgreSQL now: their user-index hints have served (the wallet reads
        // the index before PostgreSQL, so it sees each grant in one of them). One MULTI … EXEC: one
        // AOF fsync for the batch, not one per 16 KiB of ZREMs.
        let removals = grants.compactMap { GrantHints.isIndexed($0) ? GrantHints.removeCommand($0) : nil }  // bulk-job grants have no entry
        for start in stride(from: 0, to: removals.count, by: options.batchSize) {  // ≤ batchSize per EXEC: bounds how long one holds Redis
            for result in try redis.pipelineAsOneWrite(Array(removals[start..<min(start + options.batchSize, removals.count)])) {
                _ = try result.get()
            }
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        for grant in grants { metrics.lagMilliseconds.record(max(0, nowMs - grant.issuedAtMs)) }
        CommitLag.record(grants, nowMs: nowMs, on: redis)
        metrics.rowsWritten.add(inserted, ordering: .relaxed)
        metrics.entriesAcked.add(entries.count, ordering: .relaxed)
        metrics.batches.add(1, ordering: .relaxed)
        metrics.lastBatchMicros.store(Int(Date().timeIntervalSince(started) * 1_000_000), ordering: .relaxed)
        return entries.count
    }

    /// Trims each stream below the smallest id that is pending or not yet delivered.
    func trim(_ redis: BlockingRedisConnection, streams: [String]) throws {
        for stream in streams {
            guard let state = try GrantStreamState.read(redis, stream: stream) else { continue }
            noteBacklog(stream, state.unflushed)
            if let minimum = state.trimBelow {
                _ = try redis.command(["XTRIM", .string(stream), "MINID", .string(minimum.description)])
            }
        }
    }

    func noteBacklog(_ stream: String, _ unflushed: Int) {
        let previous = backlogByStream.updateValue(unflushed, forKey: stream) ?? 0
        metrics.backlog.add(unflushed - previous, ordering: .relaxed)
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
