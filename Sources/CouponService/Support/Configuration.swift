import Foundation
import GrantFlusher
import Points
import Issuance
import BulkIssuance
import RedisClient
import RiskControl
import Webhooks

/// Node settings from `--flags` and `COUPOND_*` environment variables (flags win).
/// `--redis-command-timeout-ms 500` and `COUPOND_REDIS_COMMAND_TIMEOUT_MS=500` are the same setting.
public struct Configuration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var loops = ProcessInfo.processInfo.activeProcessorCount
    public var workers = 4
    public var redis: RedisEndpoint = .tcp(host: "127.0.0.1", port: 6379)
    public var postgres = "host=127.0.0.1 port=5432 dbname=coupond user=coupond"
    public var nodeId = Configuration.defaultNodeId()
    public var flusher = true
    public var redisCommandTimeoutMs = 1_000
    /// Redis Cluster seed nodes; empty: standalone Redis at `redis` (README "Redis Cluster").
    public var redisCluster: [RedisEndpoint] = []
    /// How often each loop reloads the cluster's slot map (redirections also reload it).
    public var redisClusterRefreshSeconds = 5.0
    /// Replicas that must confirm each claim script call (`WAIT`) before its grants are answered; 0 = off.
    public var redisWaitReplicas = 0
    /// How long `WAIT` may take; must stay below `redisCommandTimeoutMs`.
    public var redisWaitTimeoutMs = 100
    /// The claim engine's `WAIT`, or nil when off.
    public var replicaWait: ReplicaWait? { ReplicaWait(replicas: redisWaitReplicas, timeoutMs: redisWaitTimeoutMs) }
    /// Standalone or cluster, as configured.
    public var redisDeployment: RedisDeployment { redisCluster.isEmpty ? .standalone(redis) : .cluster(redisCluster) }
    public var logLevel: Logger.Level = .info
    /// How long a node answers `sold_out` for a campaign from memory before asking Redis again.
    public var soldOutMarkMs = 250
    /// Claims of one campaign a loop sends to Redis in one script call at most (1 = one call per claim).
    public var claimBatchMax = 64
    // Sharded campaigns (issue 10 §1): see README "Sharded hot campaigns".
    /// Home-shard retries of one claim after rebalances before `sold_out` is answered.
    public var shardRebalanceAttempts = 16
    /// A half-done stock transfer is completed by the recovery sweep once this old.
    public var transferRecoveryGraceMs = StockTransferRecovery.defaultGraceMs
    /// Fault injection (tests only, 0 = off): percentage of transfer debits after which the
    /// node exits at once, between the debit and the credit.
    public var faultExitAfterTransferDebit = 0
    // Points (issue 11): see README "Points".
    /// The program's expiry rule for earned points.
    public var pointsExpiry: PointsExpiryPolicy = .never
    /// An exchange left half done this long is finished by the recovery sweep.
    public var pointsRecoveryGraceMs = 5_000
    public var campaignSyncSeconds = 30.0
    public var idleTimeoutSeconds = 60.0
    public var headerTimeoutSeconds = 10.0
    // Hostile-client limits of the HTTP layer (issue 8).
    public var requestTimeoutSeconds = 30.0
    public var minBodyRateBytes = 1024
    public var bodyRateGraceSeconds = 5.0
    public var maxOutputBytes = 256 * 1024
    public var maxPipelinedRequests = 64
    /// On SIGTERM: how long connections may take to answer what they already read.
    public var drainTimeoutSeconds = 20.0
    /// On SIGTERM: how long the node keeps serving with `/readyz` at 503 before it stops accepting.
    public var drainDelaySeconds = 0.0

    // Keys and risk control (issue 8): see README "Keys and risk control".
    /// Revocation bound: a key's role is served from memory at most this long after it was read.
    public var keyCacheSeconds = 3.0
    /// Proxies whose `X-Forwarded-For` is believed; empty: the TCP peer is the client.
    public var trustedProxies = ClientAddressResolver(trustedProxies: [])
    /// Claim attempts per user and campaign (node-local), and per-campaign overrides.
    public var claimUserRate = RateLimit(perSecond: 10, burst: 60)
    public var claimUserRateByCampaign: [Int64: RateLimit] = [:]
    /// Requests per API key and per client address (node-local).
    public var keyRate = RateLimit(perSecond: 20_000, burst: 40_000)
    public var addressRate = RateLimit(perSecond: 20_000, burst: 40_000)
    /// Redeem/lock answered `not_found` (unknown or foreign code), per key and per address.
    public var codeMissRate = RateLimit(perSecond: 10, burst: 100)
    /// Failed authentications (unknown or revoked key) per client address.
    public var authFailureRate = RateLimit(perSecond: 10, burst: 100)
    /// Buckets each limiter may hold.
    public var limiterCapacity = 100_000
    // Flusher (issue 8: backends): takeover of a dead consumer's entries, the slow sweep, stale consumers.
    public var flusherTakeoverIdleMs = 30_000
    public var flusherSweepSeconds = 30.0
    public var flusherStaleConsumerSeconds = 600.0
    /// Count claims per second and outcome in Redis for the console's live charts (issue 14).
    public var claimSeries = true
    // Bulk grant jobs (issue 12): see README "Bulk grant jobs".
    public var bulkJobs = true
    public var bulkBatchSize = 5_000
    public var bulkLeaseSeconds = 10.0
    public var bulkMaxLinesPerSecond = 0
    public var bulkLinesRetentionSeconds = 3_600.0
    public var bulkLinesPerCall = BulkGrantBatch.defaultLinesPerCall
    public var bulkYieldLinesPerSecond = BulkPacing.Limits().yieldLinesPerSecond
    public var bulkYieldAboveClaimsPerSecond = BulkPacing.Limits().yieldAboveClaimsPerSecond
    public var bulkCallsInFlight = BulkGrantBatch.defaultCallsInFlight
    public var bulkBodyLimitBytes = 64 * 1024 * 1024
    public var bulkMaxLines = 5_000_000
    /// Bulk-grants uploads streamed at once per node (each holds a worker thread); more get 503.
    public var bulkMaxUploads = 2
    /// The closed set of channels a claim may name (issue 12; README "Channels"); bulk jobs record `bulk`.
    public var claimChannels: Set<String> = ["app", "h5", "sms", "wechat", "email", "store", "bulk"]
    /// Webhook delivery (issue 12; README "Webhooks"): run a deliverer on this node, its per-POST timeout.
    public var webhooks = true
    public var webhookTimeoutMs = 2_000
    public var webhookMaxBackoffMs = 60_000
    public var webhookExpiringScanSeconds = 60.0
    /// POSTs in flight per node; a row is dead after this many attempts or this age; delivered
    /// rows are kept this long; how often the dead-by-age and retention sweeps run.
    public var webhookConcurrency = 8
    public var webhookMaxAttempts = 100
    public var webhookMaxAgeSeconds = 86_400.0
    public var webhookRetentionSeconds = 604_800.0
    public var webhookSweepSeconds = 60.0

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The settings this parser knows, with their help text.
    public static let settings: [(name: String, help: String)] = [
        ("host", "address to listen on (127.0.0.1)"),
        ("port", "TCP port to listen on (8080)"),
        ("loops", "event loops, one per core by default"),
        ("workers", "threads for PostgreSQL work (4)"),
        ("redis", "Redis as host:port or unix:/path (127.0.0.1:6379)"),
        ("postgres", "libpq conninfo string"),
        ("node-id", "this node's name, also its flusher consumer name"),
        ("flusher", "run the stream flusher: true/false (true)"),
        ("redis-command-timeout-ms", "fail Redis commands after this long (1000)"),
        ("redis-cluster", "Redis Cluster seed nodes host:port[,host:port...]; replaces --redis (off)"),
        ("redis-cluster-refresh-seconds", "reload the cluster slot map this often (5)"),
        ("redis-wait-replicas", "replicas that must confirm a grant (WAIT) before it is answered; unconfirmed → 503, 0 = off (0)"),
        ("redis-wait-timeout-ms", "how long a claim waits for those replicas, below redis-command-timeout-ms (100)"),
        ("log-level", "debug, info, warning, error (info)"),
        ("sold-out-mark-ms", "remember a sold-out campaign locally this long (250)"),
        ("claim-batch-max", "claims of one campaign per Redis script call, 1 = one call per claim (64)"),
        ("shard-rebalance-attempts", "sharded campaigns: home-shard retries of a claim after rebalances before sold_out (16)"),
        ("transfer-recovery-grace-ms", "sharded campaigns: complete a half-done stock transfer once this old (2000)"),
        ("fault-exit-after-transfer-debit", "TESTS ONLY: percent of stock-transfer debits after which the node exits (0 = off)"),
        ("campaign-sync-seconds", "re-publish campaigns to Redis this often (30)"),
        ("idle-timeout-seconds", "close idle keep-alive connections after (60)"),
        ("header-timeout-seconds", "408 and close when a request head takes longer (10)"),
        ("request-timeout-seconds", "408 and close when a request's head and body take longer (30)"),
        ("min-body-rate-bytes", "408 and close when a body averages fewer bytes/s after the grace period; 0 = off (1024)"),
        ("body-rate-grace-seconds", "time a body may take before its rate is checked (5)"),
        ("max-output-bytes", "stop reading a connection with more response bytes unread by its client (262144)"),
        ("max-pipelined-requests", "stop reading a connection with this many requests unanswered (64)"),
        ("drain-timeout-seconds", "on SIGTERM: /readyz 503, stop accepting, answer in-flight requests for at most this long, then exit (20)"),
        ("drain-delay-seconds", "on SIGTERM: keep accepting this long with /readyz 503 first, for balancers polling it (0)"),
        ("key-cache-seconds", "a revoked key stops working within this long on every node (3, at most 5)"),
        ("trusted-proxies", "addresses/CIDRs whose X-Forwarded-For is used for the client address (none)"),
        ("claim-user-rate", "claim attempts per user and campaign per second[/burst], node-local; 0 = off (10/60)"),
        ("claim-user-rate-campaigns", "per-campaign overrides: ID=rate[/burst],... (none)"),
        ("key-rate", "requests per API key per second[/burst], node-local; 0 = off (20000/40000)"),
        ("address-rate", "requests per client address per second[/burst], node-local; 0 = off (20000/40000)"),
        ("code-miss-rate", "redeem/lock of unknown or foreign codes per key and per address (10/100)"),
        ("auth-failure-rate", "failed authentications per client address (10/100)"),
        ("limiter-capacity", "buckets each rate limiter may hold (100000)"),
        ("flusher-takeover-idle-ms", "take over another consumer's grant entries idle this long (30000)"),
        ("flusher-sweep-seconds", "sweep every campaign's stream once per this period (30)"),
        ("flusher-stale-consumer-seconds", "delete flusher consumers idle this long with nothing pending (600)"),
        ("claim-series", "count claims per second in Redis for the console's charts: true/false (true)"),
        ("points-expiry", "expiry of earned points: never, days:N, end-of-month:N, end-of-year:N (never)"),
        ("points-recovery-grace-ms", "finish exchanges left half done this long by a dead node (5000)"),
        ("bulk-jobs", "run bulk grant jobs on this node: true/false (true)"),
        ("bulk-batch-size", "lines per bulk-job batch: one Redis pipeline, one checkpoint (5000)"),
        ("bulk-lease-seconds", "a bulk job whose node has not renewed its lease this long is resumed by another node (10)"),
        ("bulk-max-lines-per-second", "bulk-job lines decided per second per node, 0 = unlimited (0)"),
        ("bulk-yield-lines-per-second", "claims first: a bulk job's lines per second while its node answers many claims, 0 = never yield (5000)"),
        ("bulk-yield-above-claims-per-second", "claims per second on a node above which its bulk job yields (500)"),
        ("bulk-lines-per-call", "bulk-job lines decided per Redis script call (500)"),
        ("bulk-calls-in-flight", "bulk-job script calls queued in Redis at once (4)"),
        ("bulk-lines-retention-seconds", "a finished bulk job's uploaded lines are deleted this long after it ended (3600)"),
        ("bulk-body-limit-bytes", "largest bulk-grants upload body (67108864)"),
        ("bulk-max-lines", "most user ids in one bulk job (5000000)"),
        ("bulk-max-uploads", "uploads (bulk grants and segments) streamed at once on this node, each holding a worker; more get 503 (2)"),
        ("claim-channels", "channels a claim may name, comma-separated (app,h5,sms,wechat,email,store,bulk)"),
        ("webhooks", "deliver webhook events from this node: true/false (true)"),
        ("webhook-timeout-ms", "timeout of one webhook POST (2000)"),
        ("webhook-max-backoff-ms", "longest wait between retries of a failing webhook delivery (60000)"),
        ("webhook-expiring-scan-seconds", "how often coupon.expiring subscriptions are matched against coupons (60)"),
        ("webhook-concurrency", "webhook POSTs in flight at once on this node; one endpoint gets at most this minus one, a failing one 1 (8)"),
        ("webhook-max-attempts", "attempts after which a webhook delivery is dead: kept, listed, not retried (100)"),
        ("webhook-max-age-seconds", "a webhook delivery still undelivered this long after it was queued is dead (86400)"),
        ("webhook-retention-seconds", "delivered webhook outbox rows are deleted after this long (604800)"),
        ("webhook-sweep-seconds", "how often the webhook outbox is swept for too-old and expired rows (60)"),
    ]

    /// Parses `arguments` (without the program and subcommand) over `environment`.
    /// Returns the configuration and the arguments it did not recognize.
    public static func parse(arguments: [String], environment: [String: String]) throws -> (Configuration, [String]) {
        var values: [String: String] = [:]
        for (name, _) in settings {
            let variable = "COUPOND_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            if let value = environment[variable] { values[name] = value }
        }
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { rest.append(argument); continue }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard settings.contains(where: { $0.name == name }) else { rest.append(argument); continue }
            if value == nil {
                guard index < arguments.count else { throw Error(description: "--\(name) needs a value") }
                value = arguments[index]
                index += 1
            }
            values[name] = value
        }
        var configuration = Configuration()
        for (name, value) in values { try configuration.set(name, value) }
        if configuration.redisWaitReplicas > 0, configuration.redisWaitTimeoutMs >= configuration.redisCommandTimeoutMs {
            // WAIT holds the connection's later commands: past the command timeout the node would drop it.
            throw Error(
                description: "redis-wait-timeout-ms (\(configuration.redisWaitTimeoutMs)) must be below redis-command-timeout-ms (\(configuration.redisCommandTimeoutMs))")
        }
        return (configuration, rest)
    }

    private mutating func set(_ name: String, _ value: String) throws {
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Error(description: "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(value)'")
            }
            return number
        }
        func rate() throws -> RateLimit {
            guard let limit = RateLimit(parsing: value) else {
                throw Error(description: "\(name) must be rate or rate/burst (per second; 0 = off), got '\(value)'")
            }
            return limit
        }
        func double() throws -> Double {
            guard let number = Double(value), number > 0 else { throw Error(description: "\(name) must be a positive number") }
            return number
        }
        func flag() throws -> Bool {
            guard let flag = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                throw Error(description: "\(name) must be true or false")
            }
            return flag
        }
        switch name {
        case "host": host = value
        case "port": port = try int(0...65535)
        case "loops": loops = try int(1...256)
        case "workers": workers = try int(1...256)
        case "redis": redis = try Self.parseRedis(value)
        case "postgres": postgres = value
        case "node-id":
            guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
                throw Error(description: "node-id must be letters, digits, - _ . :")
            }
            nodeId = value
        case "flusher": flusher = try flag()
        case "redis-command-timeout-ms": redisCommandTimeoutMs = try int(1...60_000)
        case "redis-cluster":
            var seeds: [RedisEndpoint] = []
            for entry in value.split(separator: ",") {
                let seed = try Self.parseRedis(entry.trimmingCharacters(in: .whitespaces))
                guard case .tcp = seed else { throw Error(description: "redis-cluster must be host:port[,host:port...], got '\(value)'") }
                seeds.append(seed)
            }
            guard !seeds.isEmpty else { throw Error(description: "redis-cluster must be host:port[,host:port...], got '\(value)'") }
            redisCluster = seeds
        case "redis-cluster-refresh-seconds": redisClusterRefreshSeconds = try double()
        case "redis-wait-replicas": redisWaitReplicas = try int(0...16)
        case "redis-wait-timeout-ms": redisWaitTimeoutMs = try int(1...60_000)
        case "log-level":
            guard let level = ["debug": Logger.Level.debug, "info": .info, "warning": .warning, "error": .error][value] else {
                throw Error(description: "log-level must be debug, info, warning or error")
            }
            logLevel = level
        case "sold-out-mark-ms": soldOutMarkMs = try int(0...10_000)
        case "claim-batch-max": claimBatchMax = try int(1...1_024)
        case "shard-rebalance-attempts": shardRebalanceAttempts = try int(1...1_000)
        case "transfer-recovery-grace-ms": transferRecoveryGraceMs = try int(100...3_600_000)
        case "fault-exit-after-transfer-debit": faultExitAfterTransferDebit = try int(0...100)
        case "campaign-sync-seconds": campaignSyncSeconds = try double()
        case "idle-timeout-seconds": idleTimeoutSeconds = try double()
        case "header-timeout-seconds": headerTimeoutSeconds = try double()
        case "request-timeout-seconds": requestTimeoutSeconds = try double()
        case "min-body-rate-bytes": minBodyRateBytes = try int(0...1 << 30)
        case "body-rate-grace-seconds": bodyRateGraceSeconds = try double()
        case "max-output-bytes": maxOutputBytes = try int(4096...1 << 30)
        case "max-pipelined-requests": maxPipelinedRequests = try int(1...4096)
        case "drain-timeout-seconds": drainTimeoutSeconds = try double()
        case "drain-delay-seconds":
            guard let seconds = Double(value), seconds >= 0, seconds <= 300 else {
                throw Error(description: "drain-delay-seconds must be a number in [0, 300]")
            }
            drainDelaySeconds = seconds
        case "key-cache-seconds":
            guard let seconds = Double(value), seconds > 0, seconds <= 5 else {
                throw Error(description: "key-cache-seconds must be a number in (0, 5]")
            }
            keyCacheSeconds = seconds
        case "trusted-proxies":
            guard let resolver = ClientAddressResolver(parsing: value) else {
                throw Error(description: "trusted-proxies must be addresses or CIDR blocks separated by commas, got '\(value)'")
            }
            trustedProxies = resolver
        case "claim-user-rate": claimUserRate = try rate()
        case "claim-user-rate-campaigns":
            var overrides: [Int64: RateLimit] = [:]
            for entry in value.split(separator: ",") {
                let parts = entry.split(separator: "=")
                guard parts.count == 2, let id = Int64(parts[0].trimmingCharacters(in: .whitespaces)), id > 0,
                    let limit = RateLimit(parsing: parts[1].trimmingCharacters(in: .whitespaces))
                else { throw Error(description: "claim-user-rate-campaigns must be ID=rate[/burst],..., got '\(entry)'") }
                overrides[id] = limit
            }
            claimUserRateByCampaign = overrides
        case "key-rate": keyRate = try rate()
        case "address-rate": addressRate = try rate()
        case "code-miss-rate": codeMissRate = try rate()
        case "auth-failure-rate": authFailureRate = try rate()
        case "limiter-capacity": limiterCapacity = try int(1_000...100_000_000)
        case "flusher-takeover-idle-ms": flusherTakeoverIdleMs = try int(100...86_400_000)
        case "flusher-sweep-seconds": flusherSweepSeconds = try double()
        case "flusher-stale-consumer-seconds": flusherStaleConsumerSeconds = try double()
        case "claim-series": claimSeries = try flag()
        case "points-expiry":
            guard let policy = PointsExpiryPolicy(setting: value) else {
                throw Error(description: "points-expiry must be never, days:N, end-of-month:N or end-of-year:N, got '\(value)'")
            }
            pointsExpiry = policy
        case "points-recovery-grace-ms": pointsRecoveryGraceMs = try int(100...3_600_000)
        case "bulk-jobs": bulkJobs = try flag()
        case "bulk-batch-size": bulkBatchSize = try int(1...100_000)
        case "bulk-lease-seconds": bulkLeaseSeconds = try double()
        case "bulk-max-lines-per-second": bulkMaxLinesPerSecond = try int(0...10_000_000)
        case "bulk-lines-retention-seconds": bulkLinesRetentionSeconds = try double()
        case "bulk-lines-per-call": bulkLinesPerCall = try int(1...2_000)
        case "bulk-yield-lines-per-second": bulkYieldLinesPerSecond = try int(0...10_000_000)
        case "bulk-yield-above-claims-per-second": bulkYieldAboveClaimsPerSecond = try int(1...10_000_000)
        case "bulk-calls-in-flight": bulkCallsInFlight = try int(1...64)
        case "bulk-body-limit-bytes": bulkBodyLimitBytes = try int(1024...(1 << 31))
        case "bulk-max-lines": bulkMaxLines = try int(1...100_000_000)
        case "bulk-max-uploads": bulkMaxUploads = try int(1...64)
        case "webhooks": webhooks = try flag()
        case "webhook-timeout-ms": webhookTimeoutMs = try int(100...60_000)
        case "webhook-max-backoff-ms": webhookMaxBackoffMs = try int(100...86_400_000)
        case "webhook-expiring-scan-seconds": webhookExpiringScanSeconds = try double()
        case "webhook-concurrency": webhookConcurrency = try int(1...256)
        case "webhook-max-attempts": webhookMaxAttempts = try int(1...100_000)
        case "webhook-max-age-seconds": webhookMaxAgeSeconds = try double()
        case "webhook-retention-seconds": webhookRetentionSeconds = try double()
        case "webhook-sweep-seconds": webhookSweepSeconds = try double()
        case "claim-channels":
            let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, names.count <= 64,
                names.allSatisfy({ name in !name.isEmpty && name.count <= 32 && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" } })
            else { throw Error(description: "claim-channels must be up to 64 names of a-z 0-9 _ - (at most 32 characters), comma-separated") }
            claimChannels = Set(names)
        default: throw Error(description: "unknown setting \(name)")
        }
    }

    public static func parseRedis(_ value: String) throws -> RedisEndpoint {
        if value.hasPrefix("unix:") { return .unix(path: String(value.dropFirst(5))) }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw Error(description: "redis must be host:port or unix:/path, got '\(value)'")
        }
        return .tcp(host: String(parts[0]), port: port)
    }

    static func defaultNodeId() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).filter { $0.isLetter || $0.isNumber || $0 == "-" }
        return "\(host.isEmpty ? "node" : host)-\(getpid())"
    }
}

extension Configuration {
    /// The flusher's options from the `flusher-*` settings.
    public var flusherOptions: Flusher.Options {
        var options = Flusher.Options()
        options.claimIdleMilliseconds = flusherTakeoverIdleMs
        options.sweepSeconds = flusherSweepSeconds
        options.staleConsumerMilliseconds = Int(flusherStaleConsumerSeconds * 1000)
        options.transferGraceMilliseconds = transferRecoveryGraceMs
        options.replicaWait = replicaWait
        return options
    }
}

extension Configuration {
    /// The webhook deliverer's options from the `webhook-*` settings.
    public var webhookDelivererOptions: WebhookDeliverer.Options {
        WebhookDeliverer.Options(
            timeoutMs: webhookTimeoutMs, expiringScanSeconds: webhookExpiringScanSeconds,
            limits: .init(
                concurrency: webhookConcurrency, maxAttempts: webhookMaxAttempts, maxAgeSeconds: webhookMaxAgeSeconds,
                maxBackoffMs: Int64(webhookMaxBackoffMs)),
            retentionSeconds: webhookRetentionSeconds, sweepSeconds: webhookSweepSeconds)
    }
}

extension Configuration {
    /// The bulk-job runner's options from the `bulk-*` settings.
    public var bulkRunnerOptions: BulkJobRunner.Options {
        var options = BulkJobRunner.Options()
        options.batchSize = bulkBatchSize
        options.leaseSeconds = bulkLeaseSeconds
        options.pacing.maxLinesPerSecond = bulkMaxLinesPerSecond
        options.pacing.yieldLinesPerSecond = bulkYieldLinesPerSecond
        options.pacing.yieldAboveClaimsPerSecond = bulkYieldAboveClaimsPerSecond
        options.linesRetentionSeconds = bulkLinesRetentionSeconds
        options.linesPerCall = bulkLinesPerCall
        options.callsInFlight = bulkCallsInFlight
        return options
    }
}
