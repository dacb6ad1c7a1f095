import Foundation
import Issuance
import PostgresClient
import RedisClient

/// The guarantees checked after a run (ARCHITECTURE §7), against Redis and PostgreSQL.
struct CampaignSnapshot {
    var stockTotal: Int64
    var perUserLimit: Int
    var remaining: Int64
    var issued: Int64

    static func read(campaignId: Int64, redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> CampaignSnapshot {
        let row = try postgres.execute(
            "SELECT stock_total, per_user_limit FROM campaigns WHERE id = $1", [campaignId]
        ).first
        guard let row else { throw LoadError("campaign \(campaignId) is not in PostgreSQL") }
        let keys = CampaignKeys(campaignId: campaignId)
        let remaining = try redis.command(["GET", .string(keys.stock)]).string.flatMap { Int64($0) } ?? 0
        let issued = try redis.command(["HGET", .string(keys.meta), "issued"]).string.flatMap { Int64($0) } ?? 0
        return CampaignSnapshot(stockTotal: try row.int64(0), perUserLimit: try row.int(1), remaining: remaining, issued: issued)
    }
}

struct CheckResult {
    var name: String
    var passed: Bool
    var detail: String
}

struct FlushLag {
    var rows = 0
    var p50Ms = 0.0
    var p99Ms = 0.0
    var maxMs = 0.0
    var waitedSeconds = 0.0
}

enum Checker {
    static func run(
        campaignId: Int64, before: CampaignSnapshot, stats: LoopStats, workload: Workload,
        redis: BlockingRedisConnection, postgres: PostgresConnection, flushWaitSeconds: Double
    ) throws -> (checks: [CheckResult], lag: FlushLag) {
        var checks: [CheckResult] = []
        let keys = CampaignKeys(campaignId: campaignId)
        var after = try CampaignSnapshot.read(campaignId: campaignId, redis: redis, postgres: postgres)
        // Wait for the flusher: PostgreSQL must hold every grant Redis counted.
        let waitStart = Date()
        var rows: Int64 = 0
        while true {
            rows = try postgres.execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [campaignId]).first!.int64(0)
            after = try CampaignSnapshot.read(campaignId: campaignId, redis: redis, postgres: postgres)
            if rows >= after.issued || Date().timeIntervalSince(waitStart) > flushWaitSeconds { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        var lag = FlushLag()
        lag.waitedSeconds = Date().timeIntervalSince(waitStart)

        // 1. issued = min(stock, demand), where demand counts each user up to the limit.
        let limit = Int32(after.perUserLimit)
        let demand = stats.claimsPerUser.reduce(0) { $0 + Int64(min($1, limit)) }
        let issuedNow = after.issued - before.issued
        let expected = min(before.remaining, demand)
        let distinctCodes = Set(stats.grants.map(\.code))
        if stats.unknown == 0 {
            checks.append(CheckResult(
                name: "issued = min(stock, demand)", passed: issuedNow == expected,
                detail: "issued \(issuedNow), stock at start \(before.remaining), demand \(demand)"))
            checks.append(CheckResult(
                name: "every grant was answered 201", passed: Int64(distinctCodes.count) == issuedNow,
                detail: "\(distinctCodes.count) distinct codes answered, \(issuedNow) issued"))
        } else {
            checks.append(CheckResult(
                name: "answered ≤ issued ≤ min(stock, demand)",
                passed: Int64(distinctCodes.count) <= issuedNow && issuedNow <= expected,
                detail: "\(distinctCodes.count) answered, issued \(issuedNow), bound \(expected) (\(stats.unknown) claims without a definitive answer)"))
        }

        // 2. No user over the limit: in Redis, in PostgreSQL and in what the clients saw.
        let counts = try redis.command(["HVALS", .string(keys.users)]).array ?? []
        let redisMax = counts.compactMap { $0.string.flatMap(Int.init) }.max() ?? 0
        let pgOver = try postgres.execute(
            "SELECT count(*) FROM (SELECT user_id FROM coupons WHERE campaign_id = $1 GROUP BY user_id HAVING count(*) > $2) x",
            [campaignId, Int64(after.perUserLimit)]
        ).first!.int(0)
        var seenPerUser: [Int: Set<String>] = [:]
        for grant in stats.grants { seenPerUser[grant.user, default: []].insert(grant.code) }
        let clientMax = seenPerUser.values.map(\.count).max() ?? 0
        checks.append(CheckResult(
            name: "no user over the limit", passed: redisMax <= after.perUserLimit && pgOver == 0 && clientMax <= after.perUserLimit,
            detail: "limit \(after.perUserLimit); max per user: Redis \(redisMax), answers \(clientMax); PostgreSQL users over: \(pgOver)"))

        // 3. Every 201 code is in PostgreSQL exactly once.
        let pgCodes = try postgres.execute(
            "SELECT code, count(*) FROM coupons WHERE campaign_id = $1 GROUP BY code", [campaignId])
        var pgSet = Set<String>()
        var duplicates = 0
        for row in pgCodes {
            pgSet.insert(try row.string(0))
            if try row.int(1) != 1 { duplicates += 1 }
        }
        let missing = distinctCodes.subtracting(pgSet)
        checks.append(CheckResult(
            name: "every 201 code in PostgreSQL exactly once", passed: missing.isEmpty && duplicates == 0,
            detail: "\(distinctCodes.count) codes, \(missing.count) missing, \(duplicates) duplicated\(missing.isEmpty ? "" : " e.g. \(missing.first!)")"))

        // 4. Conservation: stock = remaining + issued, and PostgreSQL holds every issued coupon.
        checks.append(CheckResult(
            name: "stock = remaining + issued", passed: after.stockTotal == after.remaining + after.issued,
            detail: "stock \(after.stockTotal), remaining \(after.remaining), issued \(after.issued)"))
        checks.append(CheckResult(
            name: "PostgreSQL rows = issued (after the flush)", passed: rows == after.issued,
            detail: "\(rows) rows, \(after.issued) issued; waited \(String(format: "%.2f", lag.waitedSeconds)) s"))

        // Grant-to-PostgreSQL lag of this run's rows (flushed_at is the flush transaction's time).
        let lagRow = try postgres.execute(
            """
            SELECT count(*),
                   COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), 0),
                   COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), 0),
                   COALESCE(max(ms), 0)
            FROM (SELECT extract(epoch FROM flushed_at - issued_at) * 1000 AS ms
                  FROM coupons WHERE campaign_id = $1 AND user_id LIKE $2) x
            """, [campaignId, "u\(workload.runId)-%"]
        ).first!
        lag.rows = try lagRow.int(0)
        lag.p50Ms = try lagRow.double(1)
        lag.p99Ms = try lagRow.double(2)
        lag.maxMs = try lagRow.double(3)
        return (checks, lag)
    }
}
