import Foundation
import PostgresClient
import RedisClient

/// The points figures finance reads (issue 11): per-day movements from the ledger, the
/// outstanding liability and its expiry schedule from Redis, and the conservation check
/// `Redis balance = ledger + events not yet flushed`, naming the users that break it.
/// Read-only.
public struct PointsReport: Sendable, Equatable {
    public struct Day: Sendable, Equatable {
        public var day: String
        public var earned: Int64 = 0, spent: Int64 = 0, refunded: Int64 = 0, expired: Int64 = 0, adjusted: Int64 = 0
    }

    public var days: [Day] = []
    /// Σ Redis balances (live lots only).
    public var outstanding: Int64 = 0
    /// Points per UTC expiry day ("never" for lots that do not expire).
    public var expirySchedule: [(day: String, points: Int64)] = []
    public var usersChecked = 0
    /// "user: redis B, ledger L, unflushed U" for each user whose balance is not accounted for.
    public var offenders: [String] = []

    public static func == (lhs: PointsReport, rhs: PointsReport) -> Bool {
        lhs.days == rhs.days && lhs.outstanding == rhs.outstanding && lhs.usersChecked == rhs.usersChecked && lhs.offenders == rhs.offenders
            && lhs.expirySchedule.map(\.day) == rhs.expirySchedule.map(\.day) && lhs.expirySchedule.map(\.points) == rhs.expirySchedule.map(\.points)
    }

    static func utcDay(_ ms: Int64) -> String { String(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000)).prefix(10)) }

    /// Every account key (`pt:{p:B}:a:<user>`), from every master.
    public static func accountKeys(_ redis: BlockingRedisConnection) throws -> [String] {
        let masters = redis.masters
        let connections = masters.count > 1 ? try masters.map { try BlockingRedisConnection(endpoint: $0) } : [redis]
        defer { if masters.count > 1 { connections.forEach { $0.close() } } }
        var keys: [String] = []
        for connection in connections {
            var cursor = "0"
            repeat {
                let reply = try connection.command(["SCAN", .string(cursor), "MATCH", "pt:{p:*}:a:*", "COUNT", "1000"])
                cursor = reply.array?.first?.string ?? "0"
                keys += (reply.array?.dropFirst().first?.array ?? []).compactMap(\.string)
            } while cursor != "0"
        }
        return keys
    }

    /// Builds the report for ledger days in [fromMs, toMs).
    public static func build(fromMs: Int64, toMs: Int64, redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> PointsReport {
        var report = PointsReport()
        var byDay: [String: Day] = [:]
        for movement in try PointsStore.dailyMovements(fromMs: fromMs, toMs: toMs, on: postgres) {
            let day = movement.day, sum = movement.points
            var entry = byDay[day] ?? Day(day: day)
            switch movement.kind {
            case "earn": entry.earned += sum
            case "spend": entry.spent += -sum
            case "refund": entry.refunded += sum
            case "expire": entry.expired += -sum
            default: entry.adjusted += sum
            }
            byDay[day] = entry
        }
        report.days = byDay.values.sorted { $0.day < $1.day }

        // Redis first (balance and last event number per user), then the ledger, then the streams.
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var accounts: [String: (balance: Int64, seq: Int64)] = [:]
        var schedule: [String: Int64] = [:]
        // One SCAN over every bucket (`{` and `}` are literal in a SCAN pattern), on every master
        // of a cluster (SCAN names no key, so it is answered by one node only).
        for key in try accountKeys(redis) {
            guard let marker = key.range(of: "}:a:") else { continue }
            let user = String(key[marker.upperBound...])
            let hash = try redis.command(["HGETALL", .string(key)])
            let items = hash.array ?? []
            var balance: Int64 = 0, seq: Int64 = 0, index = 0
            while index + 1 < items.count {
                if items[index].string == "bal" { balance = items[index + 1].string.flatMap(Int64.init) ?? 0 }
                if items[index].string == "seq" { seq = items[index + 1].string.flatMap(Int64.init) ?? 0 }
                index += 2
            }
            accounts[user] = (balance, seq)
            for lot in PointsAccount(userId: user, hash: hash, nowMs: nowMs).lots {
                schedule[lot.expiresAtMs.map(utcDay) ?? "never", default: 0] += lot.points
                report.outstanding += lot.points
            }
        }
        report.expirySchedule = schedule.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        report.usersChecked = accounts.count

        let ledger = try PointsStore.ledgerTotals(on: postgres)
        let suspects = accounts.filter { user, account in
            let flushed = ledger[user] ?? (0, 0)
            return flushed.count != account.seq || flushed.sum != account.balance
        }
        guard !suspects.isEmpty else { return report }
        // Users with events not yet flushed: add the stream's events the ledger does not have.
        var unflushed: [String: [Int64: Int64]] = [:]
        for keys in PointsKeys.all {
            let entries = try redis.command(["XRANGE", .string(keys.events), "-", "+"]).array ?? []
            for event in PointsEvent.parse(entries: entries).events where suspects[event.userId] != nil {
                unflushed[event.userId, default: [:]][event.seq] = event.points
            }
        }
        for (user, account) in suspects.sorted(by: { $0.key < $1.key }) {
            var events = try PointsStore.ledgerPoints(of: user, on: postgres)
            for (seq, points) in unflushed[user] ?? [:] where events[seq] == nil { events[seq] = points }
            let total = events.filter { $0.key <= account.seq }.values.reduce(0, +)
            let complete = (1...max(account.seq, 1)).allSatisfy { account.seq == 0 || events[$0] != nil }
            if total != account.balance || !complete {
                report.offenders.append(
                    "\(user): redis \(account.balance), ledger + unflushed \(total), events \(events.count) of \(account.seq)")
            }
        }
        return report
    }
}
