import CouponCore
import CouponService
import HTTPServer
import Foundation
import Points
import PostgresClient
import RedisClient
import ServiceTestSupport
import TestSupport

/// Invariant checks of issue 11 against the real Redis and PostgreSQL a node uses.
struct PointsWorld {
    let redis: BlockingRedisConnection
    let postgres: PostgresConnection

    init(redis: RedisServer, conninfo: String) throws {
        self.redis = try redis.client()
        postgres = try PostgresConnection(conninfo: conninfo)
    }

    /// Every user's Redis balance: `bal` of each account hash.
    func redisBalances() throws -> [String: (balance: Int64, lots: Int64)] {
        var out: [String: (Int64, Int64)] = [:]
        var cursor = "0"
        repeat {
            let reply = try redis.command(["SCAN", .string(cursor), "MATCH", "pt:{p:*}:a:*", "COUNT", "1000"])
            cursor = reply.array?[0].string ?? "0"
            for key in (reply.array?[1].array ?? []).compactMap(\.string) {
                guard let marker = key.range(of: "}:a:") else { continue }
                let user = String(key[marker.upperBound...])
                let items = try redis.command(["HGETALL", .string(key)]).array ?? []
                var balance: Int64 = 0, lots: Int64 = 0
                var index = 0
                while index + 1 < items.count {
                    let field = items[index].string ?? "", value = Int64(items[index + 1].string ?? "") ?? 0
                    if field == "bal" { balance = value } else if field.hasPrefix("l:") { lots += value }
                    index += 2
                }
                out[user] = (balance, lots)
            }
        } while cursor != "0"
        return out
    }

    /// Entries of the points streams not yet flushed (stream lengths: acked entries are deleted).
    func unflushedEvents() throws -> Int {
        try PointsKeys.all.reduce(0) { $0 + Int(try redis.command(["XLEN", .string($1.events)]).int ?? 0) }
    }

    func pendingReservations() throws -> Int {
        try PointsKeys.all.reduce(0) { $0 + Int(try redis.command(["ZCARD", .string($1.pending)]).int ?? 0) }
    }

    /// Waits until every points event and every grant of `campaignId` is in PostgreSQL.
    func waitForFlush(campaignId: Int64? = nil, seconds: Double = 30) throws -> Bool {
        TestEnvironment.waitUntil(seconds: seconds, interval: 0.05) {
            // Exchanges answer before their last step: wait for it too (a pending reservation).
            guard (try? pendingReservations()) == 0, (try? unflushedEvents()) == 0 else { return false }
            guard let campaignId else { return true }
            let issued = (try? redis.command(["HGET", .string("cp:{c:\(campaignId)}:meta"), "issued"]).string.flatMap(Int.init)) ?? 0
            let rows = (try? postgres.execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [campaignId]).first?.int(0)) ?? -1
            return issued == rows
        }
    }

    /// The ledger's sum per user.
    func ledgerSums() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try postgres.execute("SELECT user_id, sum(points)::bigint FROM points_ledger GROUP BY user_id") {
            out[try row.string(0)] = try row.int64(1)
        }
        return out
    }

    /// Conservation: Redis balance = Σ lots = ledger sum (everything flushed), none negative.
    /// Returns the offenders.
    func balanceOffenders() throws -> [String] {
        let balances = try redisBalances()
        let sums = try ledgerSums()
        var offenders: [String] = []
        for (user, account) in balances where account.balance != account.lots || account.balance < 0 || (sums[user] ?? 0) != account.balance {
            offenders.append("\(user): redis \(account.balance), lots \(account.lots), ledger \(sums[user] ?? 0)")
        }
        for (user, sum) in sums where balances[user] == nil && sum != 0 { offenders.append("\(user): ledger \(sum), no account") }
        return offenders.sorted()
    }

    /// Exchange invariants for one campaign: every grant has exactly one spend; every spend has
    /// a grant or a refund (never both); Σ spent − Σ refunded = cost × grants.
    func exchangeOffenders(campaignId: Int64, cost: Int64) throws -> [String] {
        let rows = try postgres.execute(
            """
            WITH s AS (SELECT request_id, user_id, count(*) AS n FROM points_ledger WHERE kind = 'spend' AND campaign_id = $1 GROUP BY 1, 2),
                 r AS (SELECT request_id, user_id, count(*) AS n FROM points_ledger WHERE kind = 'refund' AND campaign_id = $1 GROUP BY 1, 2),
                 g AS (SELECT request_id, user_id, count(*) AS n FROM coupons WHERE campaign_id = $1 GROUP BY 1, 2)
            SELECT coalesce(s.request_id, r.request_id, g.request_id), coalesce(s.n, 0), coalesce(r.n, 0), coalesce(g.n, 0)
            FROM s FULL JOIN r USING (request_id, user_id) FULL JOIN g USING (request_id, user_id)
            WHERE NOT ((s.n = 1 AND g.n = 1 AND r.n IS NULL) OR (s.n = 1 AND r.n = 1 AND g.n IS NULL))
            """, [campaignId])
        var offenders = try rows.map { "request \(try $0.string(0)): spends \(try $0.int(1)), refunds \(try $0.int(2)), grants \(try $0.int(3))" }
        let totals = try postgres.execute(
            """
            SELECT (SELECT coalesce(-sum(points), 0)::bigint FROM points_ledger WHERE kind = 'spend' AND campaign_id = $1),
                   (SELECT coalesce(sum(points), 0)::bigint FROM points_ledger WHERE kind = 'refund' AND campaign_id = $1),
                   (SELECT count(*) FROM coupons WHERE campaign_id = $1)
            """, [campaignId]).first!
        let spent = try totals.int64(0), refunded = try totals.int64(1), grants = try totals.int64(2)
        if spent - refunded != cost * grants { offenders.append("spent \(spent) − refunded \(refunded) ≠ \(cost) × \(grants) grants") }
        return offenders
    }
}

extension TestNode {
    /// Sends `body` to `path` as `role` on `client` and parses the answer.
    func json(_ method: String, _ path: String, as role: Role, body: String? = nil, on client: BlockingHTTPClient? = nil) throws -> (Int, JSONValue) {
        let response = try client.map { try send(on: $0, method, path, as: role, body: body) } ?? request(method, path, as: role, body: body)
        return (response.status, (try? JSONParser.parse(response.body)) ?? .null)
    }
}
