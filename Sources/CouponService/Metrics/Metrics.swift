import EventLoop
import HTTPServer
import Issuance
import GrantFlusher
import RedisClient
import Synchronization

/// The node's Prometheus metrics: requests by route and status, claim outcomes, request
/// latency, flusher progress. Counters are cheap to bump from any loop.
public final class Metrics: Sendable {
    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private let requests = Mutex<[RequestKey: Int]>([:])
    private let claimOutcomes = Mutex<[String: Int]>([:])
    /// Request latency in microseconds.
    public let latency = Histogram(bounds: [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000])
    public let redisUnavailable = Atomic<Int>(0)
    /// 429s by limiter (risk control).
    public let rateLimited = RateLimitedCounters()
    /// Redis Cluster routing (issue 9 §2); rendered only when the node runs on a cluster.
    public let cluster = ClusterCounters()
    public let onCluster = Atomic<Bool>(false)
    /// Sharded campaigns (issue 10 §1), all engines of the node.
    public let shards = ShardCounters()

    /// Each event loop's turn durations (set once by the node when its loops exist).
    private let loopTurns = Mutex<[Histogram]>([])

    public init() {}

    /// The loops whose turn durations `/metrics` reports (summed over the loops).
    public func observeLoopTurns(_ histograms: [Histogram]) {
        loopTurns.withLock { $0 = histograms }
    }

    /// `route` must be a registered pattern or "unmatched" (the HTTP layer passes nothing
    /// else); `method` is reduced to a standard method or "other" and `status` to 100...599 or
    /// 0, so the label set is closed whatever clients send.
    public func recordRequest(route: String, method: String, status: Int, latencyNanos: UInt64) {
        let key = RequestKey(
            route: route, method: HTTPMethod(rawValue: method).label, status: (100...599).contains(status) ? status : 0)
        requests.withLock { $0[key, default: 0] += 1 }
        latency.record(Int64(latencyNanos / 1_000))
    }

    public func recordClaim(outcome: String) {
        claimOutcomes.withLock { $0[outcome, default: 0] += 1 }
    }

    /// Claims answered by this node so far, any outcome (a bulk job's claims-first pacing reads
    /// it once per script call): the sum of the outcome counters.
    public var claimsAnswered: Int { claimOutcomes.withLock { $0.values.reduce(0, +) } }

    /// Prometheus text exposition format 0.0.4.
    public func render(flusher: FlusherMetrics?) -> String {
        var out = ""
        out += "# HELP coupond_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
        out += "# TYPE coupond_http_requests_total counter\n"
        let requestCounts = requests.withLock { $0 }
        for (key, count) in requestCounts.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "coupond_http_requests_total{route=\"\(escape(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP coupond_claims_total Claim decisions by outcome.\n# TYPE coupond_claims_total counter\n"
        for (outcome, count) in claimOutcomes.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "coupond_claims_total{outcome=\"\(outcome)\"} \(count)\n"
        }
        out += "# HELP coupond_http_request_duration_seconds Time from request parsed to response queued.\n"
        out += "# TYPE coupond_http_request_duration_seconds histogram\n"
        out += histogram("coupond_http_request_duration_seconds", latency, scale: 1_000_000)
        let turns = loopTurns.withLock { $0 }
        if let first = turns.first {
            out += "# HELP coupond_loop_turn_seconds Event-loop turns by the time their work took (the wait excluded), all loops: a turn over a few ms stalls every request of its loop.\n"
            out += "# TYPE coupond_loop_turn_seconds histogram\n"
            out += histogram("coupond_loop_turn_seconds", bounds: first.bounds, turns.map { $0.snapshot() }, scale: 1_000_000)
        }
        out += "# HELP coupond_redis_unavailable_total Requests answered 503 because Redis was unreachable.\n"
        out += "# TYPE coupond_redis_unavailable_total counter\n"
        out += "coupond_redis_unavailable_total \(redisUnavailable.load(ordering: .relaxed))\n"
        out += rateLimited.render()
        out += "# HELP coupond_shard_transfers_total Stock transfers between a sharded campaign's shards this node completed.\n"
        out += "# TYPE coupond_shard_transfers_total counter\n"
        out += "coupond_shard_transfers_total \(shards.transfers.load(ordering: .relaxed))\n"
        out += "# HELP coupond_shard_transfer_units_total Units of stock those transfers moved.\n# TYPE coupond_shard_transfer_units_total counter\n"
        out += "coupond_shard_transfer_units_total \(shards.unitsMoved.load(ordering: .relaxed))\n"
        out += "# HELP coupond_shard_refused_with_stock_total Claims answered sold_out after the last rebalance attempt while stock was elsewhere or in transit.\n"
        out += "# TYPE coupond_shard_refused_with_stock_total counter\n"
        out += "coupond_shard_refused_with_stock_total \(shards.refusedWithStockElsewhere.load(ordering: .relaxed))\n"
        if onCluster.load(ordering: .relaxed) {
            out += "# HELP coupond_redis_cluster_redirects_total Redis Cluster replies the node followed or retried, by kind.\n"
            out += "# TYPE coupond_redis_cluster_redirects_total counter\n"
            for (kind, count) in cluster.snapshot { out += "coupond_redis_cluster_redirects_total{kind=\"\(kind)\"} \(count)\n" }
            out += "# HELP coupond_redis_cluster_map_refreshes_total Slot map reloads (periodic and after redirections), all loops.\n"
            out += "# TYPE coupond_redis_cluster_map_refreshes_total counter\n"
            out += "coupond_redis_cluster_map_refreshes_total \(cluster.mapRefreshes.load(ordering: .relaxed))\n"
        }
        if let flusher {
            out += "# HELP coupond_flusher_rows_total Coupon rows the flusher inserted into PostgreSQL.\n# TYPE coupond_flusher_rows_total counter\n"
            out += "coupond_flusher_rows_total \(flusher.rowsWritten.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_acked_total Stream entries acknowledged after commit.\n# TYPE coupond_flusher_acked_total counter\n"
            out += "coupond_flusher_acked_total \(flusher.entriesAcked.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_unreplicated_total Stream entries read but left pending because fewer replicas than --redis-wait-replicas confirmed them.\n# TYPE coupond_flusher_unreplicated_total counter\n"
            out += "coupond_flusher_unreplicated_total \(flusher.entriesUnreplicated.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_errors_total Flusher iterations that failed and were retried.\n# TYPE coupond_flusher_errors_total counter\n"
            out += "coupond_flusher_errors_total \(flusher.errors.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_backlog Grant stream entries not yet flushed, as the flusher last saw each stream.\n# TYPE coupond_flusher_backlog gauge\n"
            out += "coupond_flusher_backlog \(flusher.backlog.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_consumers_removed_total Stale flusher consumers deleted (nothing pending, idle past flusher-stale-consumer-seconds).\n# TYPE coupond_flusher_consumers_removed_total counter\n"
            out += "coupond_flusher_consumers_removed_total \(flusher.consumersRemoved.load(ordering: .relaxed))\n"
            out += "# HELP coupond_flusher_lag_seconds Time from grant to its PostgreSQL commit.\n# TYPE coupond_flusher_lag_seconds histogram\n"
            out += histogram("coupond_flusher_lag_seconds", flusher.lagMilliseconds, scale: 1_000)
        }
        return out
    }

    private func histogram(_ name: String, _ histogram: Histogram, scale: Double) -> String {
        self.histogram(name, bounds: histogram.bounds, [histogram.snapshot()], scale: scale)
    }

    /// Snapshots of histograms with the same bounds, rendered as their sum.
    private func histogram(
        _ name: String, bounds: [Int64], _ snapshots: [(cumulative: [Int], count: Int, sum: Int)], scale: Double
    ) -> String {
        var cumulative = [Int](repeating: 0, count: bounds.count + 1)
        var count = 0, sum = 0
        for snapshot in snapshots {
            for index in cumulative.indices { cumulative[index] += snapshot.cumulative[index] }
            count += snapshot.count
            sum += snapshot.sum
        }
        var out = ""
        for (index, bound) in bounds.enumerated() {
            out += "\(name)_bucket{le=\"\(Double(bound) / scale)\"} \(cumulative[index])\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum \(Double(sum) / scale)\n\(name)_count \(count)\n"
        return out
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
