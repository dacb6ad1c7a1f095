import CouponCore
import Dispatch
import EventLoop
import Foundation
import HTTPServer
import Issuance
import Ledger
import PostgresClient
import RedisClient
import Redemption
import Store

/// One coupond node: event loops serving HTTP, a Redis connection per loop for claims,
/// worker threads for PostgreSQL, the stream flusher, and a periodic campaign sync.
/// It keeps no state that another node would need: it can be killed at any moment.
public final class Node: @unchecked Sendable {  // start/stop are called from one thread; the rest is owned by API, loops and workers
    public let configuration: Configuration
    public let logger: Logger
    public let metrics = Metrics()
    let api: API
    private let group: EventLoopGroup
    private let workers: WorkerPool
    private var server: HTTPServer?
    private let router = Router()
    private var flusher: Flusher?
    private var syncTimer: DispatchSourceTimer?
    private var expirySweeper: ExpirySweeper?
    /// Each loop's Redis (a connection, or a router over the cluster's masters), used by that
    /// loop's `ClaimEngine`; connected in `start`, closed in `stop`.
    private let loopRedis: [(loop: EventLoop, redis: any AsyncRedis, connect: @Sendable () -> Void)]

    /// `flusherOptions` replaces the flusher settings taken from `configuration` (tests).
    public init(configuration: Configuration, logger: Logger, flusherOptions: Flusher.Options? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        group = try EventLoopGroup(count: configuration.loops)
        workers = WorkerPool(threads: configuration.workers, conninfo: configuration.postgres, deployment: configuration.redisDeployment)
        if configuration.flusher {
            flusher = Flusher(
                consumer: configuration.nodeId, deployment: configuration.redisDeployment, postgresConninfo: configuration.postgres,
                options: flusherOptions ?? configuration.flusherOptions, log: { [logger] event, fields in logger.warning(event, fields) })
        }
        let options = RedisConnectionOptions(commandTimeoutMs: configuration.redisCommandTimeoutMs)
        // On Redis Cluster: the slot map is loaded once here, then each loop's router keeps its own copy fresh.
        let clusterMap = configuration.redisCluster.isEmpty ? nil : try ClusterSlotMap.load(seeds: configuration.redisCluster)
        metrics.onCluster.store(clusterMap != nil, ordering: .relaxed)
        let soldOut = SoldOutMarks()
        let engineOptions = ClaimEngine.Options(batchMax: configuration.claimBatchMax, soldOutMarkMs: configuration.soldOutMarkMs)
        var loopRedis: [(loop: EventLoop, redis: any AsyncRedis, connect: @Sendable () -> Void)] = []
        var engines: [ClaimEngine] = []
        for loop in group.loops {
            let redis = Self.loopRedis(configuration, clusterMap: clusterMap, loop: loop, options: options, counters: metrics.cluster)
            loopRedis.append((loop, redis.async, redis.connect))
            engines.append(ClaimEngine(loop: loop, redis: redis.async, soldOut: soldOut, options: engineOptions))
        }
        self.loopRedis = loopRedis
        api = API(configuration: configuration, logger: logger, metrics: metrics, workers: workers, engines: engines, flusher: flusher)
        Routes.install(on: router, api: api)
    }

    /// Every route this node serves, as (method, pattern).
    public var routes: [(method: String, pattern: String)] {
        router.routes.map { ($0.method.rawValue, $0.pattern) }
    }

    /// The port the node listens on (the real one when configured with port 0).
    public var port: Int { server?.port ?? 0 }
    public var flusherMetrics: FlusherMetrics? { flusher?.metrics }

    /// Migrates PostgreSQL, connects each loop to Redis, publishes campaigns, then serves.
    public func start() throws {
        let connection = try PostgresConnection(conninfo: configuration.postgres)
        let applied = try CouponSchema.migrate(connection)
        if !applied.isEmpty { logger.info("migrated", ["versions": applied.map(String.init).joined(separator: ",")]) }

        for (loop, _, connect) in loopRedis {
            let ready = DispatchSemaphore(value: 0)
            loop.execute {
                connect()
                ready.signal()
            }
            ready.wait()
        }

        syncCampaignsNow()

        let metrics = self.metrics
        let server = HTTPServer(
            group: group,
            configuration: HTTPServerConfiguration(
                host: configuration.host, port: configuration.port,
                headerReadTimeout: .milliseconds(Int(configuration.headerTimeoutSeconds * 1000)),
                idleTimeout: .milliseconds(Int(configuration.idleTimeoutSeconds * 1000)),
                requestTimeout: .milliseconds(Int(configuration.requestTimeoutSeconds * 1000)),
                minBodyBytesPerSecond: configuration.minBodyRateBytes,
                bodyRateGracePeriod: .milliseconds(Int(configuration.bodyRateGraceSeconds * 1000)),
                maxPipelinedRequests: configuration.maxPipelinedRequests,
                maxOutputBytes: configuration.maxOutputBytes,
                onResponse: { route, method, status, latency in
                    metrics.recordRequest(route: route, method: method.label, status: status, latencyNanos: latency)
                }),
            router: router)
        try server.start()
        self.server = server
        flusher?.start()
        expirySweeper = ExpirySweeper(conninfo: configuration.postgres, log: { [logger] in logger.warning($0, $1) }).start()
        scheduleCampaignSync()
        logger.info(
            "node_started",
            [
                "node_id": configuration.nodeId, "port": String(server.port), "loops": String(group.loops.count),
                "redis": configuration.redisDeployment.description, "flusher": String(configuration.flusher),
            ])
    }

    /// One loop's Redis: a connection to the standalone server, or a router over the cluster's masters.
    private static func loopRedis(
        _ configuration: Configuration, clusterMap: ClusterSlotMap?, loop: EventLoop, options: RedisConnectionOptions, counters: ClusterCounters
    )
        -> (async: any AsyncRedis, connect: @Sendable () -> Void)
    {
        guard let clusterMap else {
            let connection = RedisConnection(endpoint: configuration.redis, loop: loop, options: options)
            return (connection, { connection.connect() })
        }
        let router = RedisClusterRouter(
            seeds: configuration.redisCluster, map: clusterMap, loop: loop, options: options,
            refreshSeconds: configuration.redisClusterRefreshSeconds, counters: counters)
        return (router, { router.connect() })
    }

    /// Publishes every active and paused campaign to Redis, waiting for the result.
    @discardableResult
    public func syncCampaignsNow() -> Bool {
        let done = DispatchSemaphore(value: 0)
        var succeeded = false
        syncCampaigns(announce: true) { ok in
            succeeded = ok
            done.signal()
        }
        done.wait()  // orders the write above before the read below
        return succeeded
    }

    /// Publishes every active and paused campaign on a worker; logs failures, and with
    /// `announce` (at start) also how many were published.
    private func syncCampaigns(announce: Bool = false, then finished: @escaping (Bool) -> Void = { _ in }) {
        workers.submit({ [api] context in try api.syncCampaigns(context: context) }) { [logger] result in
            switch result {
            case .success(let count):
                if announce && count > 0 { logger.info("campaigns_published", ["count": String(count)]) }
                finished(true)
            case .failure(let error):
                logger.warning("campaign_sync_failed", ["error": "\(error)"])
                finished(false)
            }
        }
    }

    private func scheduleCampaignSync() {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let interval = configuration.campaignSyncSeconds
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.syncCampaigns() }
        timer.resume()
        syncTimer = timer
    }

    /// Stops serving, stops the flusher after its batch, and closes connections.
    public func stop() {
        syncTimer?.cancel()
        server?.stop()
        flusher?.stop()
        expirySweeper?.stop()
        for (loop, redis, _) in loopRedis {
            let done = DispatchSemaphore(value: 0)
            loop.execute {
                redis.close()
                done.signal()
            }
            done.wait()
        }
        group.shutdown()
        workers.shutdown()
        logger.info("node_stopped", ["node_id": configuration.nodeId])
    }
}
