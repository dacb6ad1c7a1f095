import Issuance
import PostgresClient
import RedisClient
import Store

/// One check of one campaign: its figures in a fixed order, pass/fail, and on failure what
/// could be named (coupon codes, stream ids) with the reason each one is named.
public struct CheckResult: Sendable, Equatable {
    public struct Offender: Sendable, Equatable {
        public let code: String
        public let streamId: String
        /// `missing_in_postgres`: Redis granted it (named by the stream or by a request
        /// record) and PostgreSQL has no row; `unflushed`: still in the stream.
        public let issue: String
    }

    public let name: String
    public let passed: Bool
    public let figures: [(name: String, value: Int64?)]
    public let offenders: [Offender]
    /// What the figures cannot prove, or why the check could not be made.
    public let note: String?

    public static func == (a: CheckResult, b: CheckResult) -> Bool {
        a.name == b.name && a.passed == b.passed && a.offenders == b.offenders && a.note == b.note
            && a.figures.map(\.name) == b.figures.map(\.name) && a.figures.map(\.value) == b.figures.map(\.value)
    }

    public func figure(_ name: String) -> Int64? { figures.first { $0.name == name }?.value ?? nil }
}

public struct CampaignChecks: Sendable, Equatable {
    public let campaignId: Int64
    public let checks: [CheckResult]
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

/// The conservation checks of ARCHITECTURE §7.4, as of now:
/// - `stock_conservation`: `stock_total = remaining + issued`, all three from Redis.
/// - `flush_conservation`: `issued (Redis) = rows in PostgreSQL + not yet flushed`, where
///   rows count coupons whose stream id is at or below the snapshot's last stream id, and
///   "not yet flushed" counts backlog entries (pending or undelivered) whose code has no row
///   yet. Entries committed but not acked count once, as rows. So the check holds exactly
///   under concurrent claims and flushes.
/// - `period_flushed` (reports only): no grant claimed before the period's end is still
///   waiting in the stream; until it passes, the period's `issued` figures may still grow.
///
/// What can be proven: a code in the stream without a row is unflushed, and named. A row
/// missing after its entry was acked and trimmed is named only while its request record in Redis
/// (kept at least `ClaimScript.requestTTLMs`) still holds it; older losses show in the figures.
/// Rows beyond what Redis counts (a lost or reset Redis) cannot be attributed to codes.
public enum ConservationChecks {
    public static let namedLimit = 100

    /// A sharded campaign (issue 10) adds the units in transit between shards:
    /// `stock_total = Σ remaining + Σ issued + in transit` (figures `in_transit`, `shards`).
    static func stock(_ snapshot: RedisSnapshot, stockTotalPostgres: Int64) -> CheckResult {
        var difference: Int64?
        if let total = snapshot.stockTotal, let remaining = snapshot.remaining, let issued = snapshot.issued {
            difference = total - remaining - issued - snapshot.inTransit
        }
        var figures: [(name: String, value: Int64?)] = [
            ("stock_total", snapshot.stockTotal), ("remaining", snapshot.remaining), ("issued", snapshot.issued),
        ]
        if snapshot.shards > 1 { figures += [("in_transit", snapshot.inTransit), ("shards", Int64(snapshot.shards))] }
        figures += [("difference", difference), ("stock_total_postgres", stockTotalPostgres)]
        return CheckResult(
            name: "stock_conservation", passed: difference == 0,
            figures: figures,
            offenders: [],
            note: snapshot.stockTotal == nil ? "the campaign is not published in Redis" : nil)
    }

    /// Backlog entries split into those already in PostgreSQL and those not yet there.
    struct Backlog {
        let unflushed: [RedisSnapshot.BacklogEntry]
        let committedNotAcked: Int64
    }

    static func backlog(_ snapshot: RedisSnapshot, on connection: PostgresConnection) throws -> Backlog {
        guard !snapshot.backlog.isEmpty else { return Backlog(unflushed: [], committedNotAcked: 0) }
        let present = try FinanceStore.existingCodes(snapshot.backlog.map(\.code), on: connection)
        let unflushed = snapshot.backlog.filter { !present.contains($0.code) }
        return Backlog(unflushed: unflushed, committedNotAcked: Int64(snapshot.backlog.count - unflushed.count))
    }

    static func flush(
        campaignId: Int64, _ snapshot: RedisSnapshot, rows: Int64, backlog: Backlog,
        redis: BlockingRedisConnection, postgres: PostgresConnection
    ) throws -> CheckResult {
        let notYetFlushed = Int64(backlog.unflushed.count)
        let difference = snapshot.issued.map { $0 - rows - notYetFlushed }
        var offenders: [CheckResult.Offender] = []
        var notes: [String] = []
        if snapshot.issued == nil { notes.append("Redis has no issued counter for the campaign") }
        if snapshot.backlogTruncated { notes.append("the stream backlog exceeds \(RedisSnapshot.maxEntries) entries; figures are partial") }
        if let difference, difference > 0 {
            offenders = try lostCodes(campaignId: campaignId, snapshot, backlog: backlog, redis: redis, postgres: postgres)
            if Int64(offenders.count) < difference {
                notes.append("\(difference - Int64(offenders.count)) missing grant(s) are older than the request records (\(ClaimScript.requestTTLMs / 3_600_000) h) and cannot be named")
            }
        } else if let difference, difference < 0 {
            notes.append("PostgreSQL holds \(-difference) more coupon(s) than Redis counts as issued: Redis lost or reset its counter; rows cannot be attributed")
        }
        return CheckResult(
            name: "flush_conservation", passed: difference == 0 && !snapshot.backlogTruncated,
            figures: [
                ("issued", snapshot.issued), ("rows_postgres", rows), ("not_yet_flushed", notYetFlushed),
                ("committed_not_acked", backlog.committedNotAcked), ("difference", difference),
            ],
            offenders: offenders, note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    static func periodFlushed(_ backlog: Backlog, periodEndMs: Int64) -> CheckResult {
        let inPeriod = backlog.unflushed.filter { $0.atMs < periodEndMs }
        return CheckResult(
            name: "period_flushed", passed: inPeriod.isEmpty,
            figures: [("unflushed_in_period", Int64(inPeriod.count)), ("not_yet_flushed", Int64(backlog.unflushed.count))],
            offenders: inPeriod.prefix(namedLimit).map { .init(code: $0.code, streamId: $0.streamId, issue: "unflushed") },
            note: inPeriod.isEmpty ? nil : "grants claimed in the period are not yet in PostgreSQL; the period's figures may still change")
    }

    /// Codes Redis granted (stream or request records) at or below the snapshot that
    /// have no row and are not waiting in the backlog.
    static func lostCodes(
        campaignId: Int64, _ snapshot: RedisSnapshot, backlog: Backlog, redis: BlockingRedisConnection, postgres: PostgresConnection
    ) throws -> [CheckResult.Offender] {
        var candidates: [String: String] = [:]  // code → stream id
        for keys in CampaignShards.keys(campaignId: campaignId, count: snapshot.shards) {
            var cursor = "0"
            repeat {
                let reply = try redis.command(["SCAN", .string(cursor), "MATCH", .string(keys.requestBuckets), "COUNT", "1000"])
                let parts = reply.array ?? []
                cursor = parts.first?.string ?? "0"
                for bucket in (parts.count > 1 ? parts[1].array ?? [] : []).compactMap(\.string) {
                    var bucketCursor = "0"
                    repeat {  // request id → "user\ncode|at|Δvalid_from|Δvalid_until|stream_id" (code and stream id used here)
                        let page = try redis.command(["HSCAN", .string(bucket), .string(bucketCursor), "COUNT", "1000"]).array ?? []
                        bucketCursor = page.first?.string ?? "0"
                        let flat = page.count > 1 ? page[1].array ?? [] : []
                        for index in stride(from: 1, to: flat.count, by: 2) {
                            guard let value = flat[index].string, let newline = value.firstIndex(of: "\n") else { continue }
                            let record = String(value[value.index(after: newline)...])
                            if let grant = Grant(record: record, campaignId: campaignId, userId: "", requestId: "") {
                                candidates[grant.code] = grant.streamId
                            }
                        }
                    } while bucketCursor != "0"
                }
            } while cursor != "0"
        }
        let waiting = Set(backlog.unflushed.map(\.code))
        let limit = snapshot.lastStreamId.map(StreamOrder.parts)
        let named = candidates.filter { code, id in
            !waiting.contains(code) && (limit.map { StreamOrder.parts(id) <= $0 } ?? true)
        }
        guard !named.isEmpty else { return [] }
        let present = try FinanceStore.existingCodes(Array(named.keys), on: postgres)
        return named.filter { !present.contains($0.key) }
            .sorted { StreamOrder.less($0.value, $1.value) || ($0.value == $1.value && $0.key < $1.key) }
            .prefix(namedLimit)
            .map { .init(code: $0.key, streamId: $0.value, issue: "missing_in_postgres") }
    }

    /// Runs the checks for `campaignIds`; `periodEndMs` adds `period_flushed`.
    public static func run(
        campaignIds: [Int64], periodEndMs: Int64?, redis: BlockingRedisConnection, postgres: PostgresConnection
    ) throws -> [CampaignChecks] {
        let stockTotals = try FinanceStore.stockTotals(of: campaignIds, on: postgres)
        return try campaignIds.map { id in
            let snapshot = try RedisSnapshot.read(campaignId: id, on: redis)
            let backlog = try backlog(snapshot, on: postgres)
            let rows = try FinanceStore.rowCount(campaignId: id, upTo: snapshot.lastStreamId, on: postgres)
            var checks = [
                stock(snapshot, stockTotalPostgres: stockTotals[id] ?? 0),
                try flush(campaignId: id, snapshot, rows: rows, backlog: backlog, redis: redis, postgres: postgres),
            ]
            if let periodEndMs { checks.append(periodFlushed(backlog, periodEndMs: periodEndMs)) }
            return CampaignChecks(campaignId: id, checks: checks)
        }
    }
}
