import CouponCore
import Dispatch
import EventLoop
import Foundation
import HTTPServer
import Issuance
import GrantFlusher
import Points
import BulkIssuance
import Webhooks
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
    /// One Redis per loop (a connection, or a router over the cluster's masters), each used by
    /// that loop's `ClaimEngine`, with how to connect it.
    private var redisConnections: [(loop: EventLoop, async: any AsyncRedis, connect: @Sendable () -> Void)] = []
    private var campaignSync: BackgroundTask?
    private var expirySweeper: ExpirySweeper?
    /// Points events → `points_ledger`, points expiry, exchange recovery (issue 11); runs with the flusher.
    private var pointsFlusher: PointsFlusher?
    private var bulkRunner: BulkJobRunner?
    private var webhookDeliverer: WebhookDeliverer?

    /// `flusherOptions` replaces the flusher settings taken from `configuration` (tests).
    public init(configuration: Configuration, logger: Logger, flusherOptions: Flusher.Options? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        group = try EventLoopGroup(count: configuration.loops)
        workers = WorkerPool(threads: configuration.workers, conninfo: configuration.postgres, deployment: configuration.redisDeployment)
        if configuration.flusher {
            var grantOptions = flusherOptions ?? configuration.flusherOptions
            // A guarantee of the node, not a tuning knob: replaced options still wait for replicas.
            if grantOptions.replicaWait == nil { grantOptions.replicaWait = configuration.replicaWait }
            flusher = Flusher(
                consumer: configuration.nodeId, deployment: configuration.redisDeployment, postgresConninfo: configuration.postgres,
                options: grantOptions, log: { [logger] event, fields in logger.warning(event, fields) })
            var pointsOptions = PointsFlusher.Options()
            pointsOptions.recoveryGraceMilliseconds = Int64(configuration.pointsRecoveryGraceMs)
            pointsOptions.claimIdleMilliseconds = (flusherOptions ?? configuration.flusherOptions).claimIdleMilliseconds
            pointsFlusher = PointsFlusher(
                consumer: configuration.nodeId, deployment: configuration.redisDeployment, postgresConninfo: configuration.postgres,
                options: pointsOptions, log: { [logger] event, fields in logger.warning(event, fields) })
        }
        let options = RedisConnectionOptions(commandTimeoutMs: configuration.redisCommandTimeoutMs)
        let soldOut = SoldOutMarks()
        let engineOptions = ClaimEngine.Options(
            batchMax: configuration.claimBatchMax, soldOutMarkMs: configuration.soldOutMarkMs, replicaWait: configuration.replicaWait,
            rebalanceAttempts: configuration.shardRebalanceAttempts, faultExitAfterDebitPercent: configuration.faultExitAfterTransferDebit)
        // On Redis Cluster: the slot map is loaded once here, then each loop's router keeps its own copy fresh.
        var clusterMap: ClusterSlotMap?
        if !configuration.redisCluster.isEmpty {
            do {
                clusterMap = try ClusterSlotMap.load(seeds: configuration.redisCluster)
            } catch {
                // Like a standalone Redis that is down at start: serve (claims answer 503) and keep asking the seeds.
                logger.warning("redis_cluster_unreachable", ["error": "\(error)"])
                clusterMap = ClusterSlotMap()
            }
        }
        metrics.onCluster.store(clusterMap != nil, ordering: .relaxed)
        metrics.observeLoopTurns(group.loops.map(\.turnMicros))
        var engines: [ClaimEngine] = []
        for loop in group.loops {
            let redis = Self.loopRedis(configuration, clusterMap: clusterMap, loop: loop, options: options, counters: metrics.cluster)
            redisConnections.append((loop, redis.async, redis.connect))
            engines.append(ClaimEngine(loop: loop, redis: redis.async, soldOut: soldOut, options: engineOptions, shardCounters: metrics.shards))
        }
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
    public var pointsFlusherForTests: PointsFlusher? { pointsFlusher }

    /// Migrates PostgreSQL, connects each loop to Redis, publishes campaigns, then serves.
    public func start() throws {
        let connection = try PostgresConnection(conninfo: configuration.postgres)
        let applied = try CouponSchema.migrate(connection)
        if !applied.isEmpty { logger.info("migrated", ["versions": applied.map(String.init).joined(separator: ",")]) }

        for redis in redisConnections {
            let ready = DispatchSemaphore(value: 0)
            redis.loop.execute {
                redis.connect()
                ready.signal()
            }
            ready.wait()
        }

        rebuildPointsAccounts(connection)
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
        pointsFlusher?.start()
        expirySweeper = ExpirySweeper(conninfo: configuration.postgres, log: { [logger] in logger.warning($0, $1) }).start()
        scheduleCampaignSync()
        if configuration.bulkJobs {
            bulkRunner = BulkJobRunner(
                owner: configuration.nodeId, conninfo: configuration.postgres, redis: configuration.redisDeployment,
                options: configuration.bulkRunnerOptions, claimsAnswered: { [metrics] in metrics.claimsAnswered }, log: { [logger] event, fields in logger.info(event, fields) }
            ).start()
        }
        if configuration.webhooks {
            webhookDeliverer = WebhookDeliverer(
                conninfo: configuration.postgres,
                options: configuration.webhookDelivererOptions,
                log: { [logger] event, fields in logger.warning(event, fields) }
            ).start()
        }
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

    /// Marks a fresh Redis' points buckets ready, or rebuilds those whose accounts Redis lost
    /// from `points_ledger` (issue 11, `PointsRebuild`), before the node serves. A Redis that is
    /// down now is handled by the points thread's sweep once it answers.
    private func rebuildPointsAccounts(_ postgres: PostgresConnection) {
        do {
            let redis = try BlockingRedisConnection.open(configuration.redisDeployment)
            defer { redis.close() }
            let summary = try PointsRebuild.run(redis: redis, postgres: postgres)
            if summary.users > 0 { logger.warning("points_accounts_rebuilt", ["buckets": String(summary.buckets), "users": String(summary.users)]) }
        } catch {
            logger.warning("points_rebuild_deferred", ["error": "\(error)"])
        }
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
        let task = BackgroundTask(.init(name: "campaign-sync", pacing: .periodic(everyMs: Int(configuration.campaignSyncSeconds * 1000))))
        task.start({ [weak self] in
            guard let self else { return 0 }
            let done = DispatchSemaphore(value: 0)
            syncCampaigns { _ in done.signal() }  // failures are logged there; the next pass retries
            done.wait()
            return 1
        }) { _ in }
        campaignSync = task
    }

    /// Graceful drain (SIGTERM, ARCHITECTURE §14): `/readyz` answers 503 at once; after
    /// `delaySeconds` (time for a balancer polling `/readyz` to stop sending) the listeners close,
    /// every connection answers the requests it already read and closes, for at most
    /// `timeoutSeconds`; then `stop()`: the flusher finishes its batch. True when every request
    /// read was answered in time.
    @discardableResult
    public func drain(timeoutSeconds: Double, delaySeconds: Double = 0) -> Bool {
        api.draining.store(true, ordering: .relaxed)
        if delaySeconds > 0 { Thread.sleep(forTimeInterval: delaySeconds) }
        let started = MonotonicClock.now()
        let finished = server?.drain(timeoutSeconds: timeoutSeconds) ?? true
        logger.info(
            "node_drained",
            ["finished": String(finished), "ms": String((MonotonicClock.now() - started) / 1_000_000)])
        stop()
        return finished
    }

    /// Stops serving, stops the flusher after its batch, and closes connections.
    public func stop() {
        campaignSync?.stop()
        server?.stop()
        bulkRunner?.stop()
        webhookDeliverer?.stop()
        flusher?.stop()
        pointsFlusher?.stop()
        expirySweeper?.stop()
        for redis in redisConnections {
            let done = DispatchSemaphore(value: 0)
            redis.loop.execute {
                redis.async.close()
                done.signal()
            }
            done.wait()
        }
        group.shutdown()
        workers.shutdown()
        logger.info("node_stopped", ["node_id": configuration.nodeId])
    }
}
