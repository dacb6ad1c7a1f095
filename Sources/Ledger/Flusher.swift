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
public final class Flusher: @unchecked Sendable {  // mutable state is touched only by the flusher thread; `stopping` is atomic
    public struct Options: Sendable {
        public var batchSize = 1_000
        public var blockMilliseconds = 50
        /// Entries idle this long in another consumer's pending list are taken over.
        public var claimIdleMilliseconds = 30_000
        public var claimEverySeconds = 5.0
        public var trimEverySeconds = 1.0
        public var registryRefreshSeconds = 1.0
        /// Test hook: called after COMMIT and before XACK; throwing simulates a crash there.
        public var afterCommit: (@Sendable ([GrantEntry]) throws -> Void)?

        public init() {}
    }

    public let consumer: String
    public let metrics = FlusherMetrics()
    private let redisEndpoint: RedisEndpoint
    private let conninfo: String
    private let options: Options
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let log: @Sendable (String, [String: String]) -> Void

    private var redis: BlockingRedisConnection?
    private var postgres: PostgresConnection?
    private var streams: [String] = []
    private var lastRegistryRefresh = Date.distantPast
    private var lastClaim = Date.distantPast
    private var lastTrim = Date.distantPast
    private var pendingHistoryDone: Set<String> = []

    public init(
        consumer: String, redis: RedisEndpoint, postgresConninfo: String, options: Options = Options(),
        log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }
    ) {
        self.consumer = consumer
        self.redisEndpoint = redis
        self.conninfo = postgresConninfo
        self.options = options
        self.log = log
    }

    /// Starts the flusher thread.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            var backoff = 0.05
            while !stopping.load(ordering: .acquiring) {
                do {
                    try runOnce()
                    backoff = 0.05
                } catch {
                    metrics.errors.add(1, ordering: .relaxed)
                    log("flusher_error", ["error": "\(error)"])
                    redis = nil
                    postgres = nil
                    pendingHistoryDone.removeAll()
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = min(backoff * 2, 2)
                }
            }
            finished.signal()
        }
        thread.name = "flusher"
        thread.start()
    }

    /// Stops after the current batch and waits for the thread.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
    }

    /// One iteration: refresh the stream list, take over idle entries, read new ones (blocking
    /// up to `blockMilliseconds`), write them, ack them, trim. Returns how many entries it handled.
    @discardableResult
    public func runOnce() throws -> Int {
        let redis = try connectedRedis()
        let postgres = try connectedPostgres()
        let now = Date()
        if now.timeIntervalSince(lastRegistryRefresh) >= options.registryRefreshSeconds {
            try refreshStreams(redis)
            lastRegistryRefresh = now
        }
        guard !streams.isEmpty else {
            Thread.sleep(forTimeInterval: Double(options.blockMilliseconds) / 1000)
            return 0
        }
        var handled = 0
        // Our own pending entries first: after a crash between COMMIT and XACK they are
        // still ours, and writing them again is harmless.
        let history = streams.filter { !pendingHistoryDone.contains($0) }
        if !history.isEmpty {
            let entries = try read(redis, streams: history, ids: history.map { _ in "0" }, block: false)
            if entries.isEmpty {
                pendingHistoryDone.formUnion(history)
            } else {
                try flush(entries, redis: redis, postgres: postgres)
                handled += entries.count
            }
        }
        if now.timeIntervalSince(lastClaim) >= options.claimEverySeconds {
            for stream in streams {
                let claimed = try autoclaim(redis, stream: stream)
                if !claimed.isEmpty {
                    try flush(claimed, redis: redis, postgres: postgres)
                    handled += claimed.count
                }
            }
            lastClaim = now
        }
        let fresh = try read(redis, streams: streams, ids: streams.map { _ in ">" }, block: handled == 0)
        if !fresh.isEmpty {
            try flush(fresh, redis: redis, postgres: postgres)
            handled += fresh.count
        }
        if now.timeIntervalSince(lastTrim) >= options.trimEverySeconds {
            try trim(redis)
            lastTrim = now
        }
        return handled
    }

    // MARK: Steps

    private func refreshStreams(_ redis: BlockingRedisConnection) throws {
        let members = try redis.command(["SMEMBERS", .string(CampaignKeys.registry)])
        let ids = (members.array ?? []).compactMap { $0.string.flatMap(Int64.init) }.sorted()
        streams = ids.map { CampaignKeys(campaignId: $0).grants }
        for stream in streams {
            // Creating the group is idempotent in effect: BUSYGROUP means it exists.
            let created = Result { () throws(RedisError) -> RESPValue in
                try redis.command(["XGROUP", "CREATE", .string(stream), .string(CampaignKeys.flusherGroup), "0", "MKSTREAM"])
            }
            if case .failure(let error) = created, error.serverError?.prefix != .busygroup { throw error }
        }
    }

    private func read(_ redis: BlockingRedisConnection, streams: [String], ids: [String], block: Bool) throws -> [GrantEntry] {
        var args: [RedisArgument] = [
            "XREADGROUP", "GROUP", .string(CampaignKeys.flusherGroup), .string(consumer), "COUNT", .int(Int64(options.batchSize)),
        ]
        if block { args += ["BLOCK", .int(Int64(options.blockMilliseconds))] }
        args.append("STREAMS")
        args += streams.map { .string($0) }
        args += ids.map { .string($0) }
        return GrantEntry.parse(readReply: try redis.command(args))
    }

    private func autoclaim(_ redis: BlockingRedisConnection, stream: String) throws -> [GrantEntry] {
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

    private func flush(_ entries: [GrantEntry], redis: BlockingRedisConnection, postgres: PostgresConnection) throws {
        let grants = entries.compactMap(\.grant)
        let started = Date()
        let inserted = try postgres.transaction { connection in
            try GrantWriter.write(grants, on: connection)
        }
        try options.afterCommit?(entries)
        var byStream: [String: [String]] = [:]
        for entry in entries { byStream[entry.stream, default: []].append(entry.streamId) }
        for (stream, ids) in byStream {
            _ = try redis.command(
                ["XACK", .string(stream), .string(CampaignKeys.flusherGroup)] + ids.map { .string($0) })
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        for grant in grants { metrics.lagMilliseconds.record(max(0, nowMs - grant.issuedAtMs)) }
        metrics.rowsWritten.add(inserted, ordering: .relaxed)
        metrics.entriesAcked.add(entries.count, ordering: .relaxed)
        metrics.batches.add(1, ordering: .relaxed)
        metrics.lastBatchMicros.store(Int(Date().timeIntervalSince(started) * 1_000_000), ordering: .relaxed)
    }

    /// Trims each stream below the smallest id that is pending or not yet delivered.
    private func trim(_ redis: BlockingRedisConnection) throws {
        var backlog = 0
        for stream in streams {
            guard let floor = try GrantStreamState.read(redis, stream: stream) else { continue }
            backlog += floor.unflushed
            if let minimum = floor.trimBelow {
                _ = try redis.command(["XTRIM", .string(stream), "MINID", .string(minimum.description)])
            }
        }
        metrics.backlog.store(backlog, ordering: .relaxed)
    }

    // MARK: Connections

    private func connectedRedis() throws -> BlockingRedisConnection {
        if let redis { return redis }
        // XREADGROUP BLOCK needs a socket timeout longer than the block time.
        let connection = try BlockingRedisConnection(
            endpoint: redisEndpoint, timeoutSeconds: max(2, Double(options.blockMilliseconds) / 1000 + 2))
        redis = connection
        return connection
    }

    private func connectedPostgres() throws -> PostgresConnection {
        if let postgres { return postgres }
        let connection = try PostgresConnection(conninfo: Conninfo.withTimeouts(conninfo))
        _ = try connection.execute("SET synchronous_commit = on")
        postgres = connection
        return connection
    }
}
