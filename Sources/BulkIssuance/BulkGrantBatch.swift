import CouponCore
import Issuance
import RedisClient

/// One batch of a bulk job decided in Redis: every line gets the same decision as an HTTP claim
/// (state, window, eligibility, per-user limit, stock — the shared claim rules), with the request
/// id `bulk-<job>-<line>`. A line decided before (the batch is re-run after a crash or a
/// takeover) is answered with its first grant, never a second one, so a job is exactly-once
/// however often a batch runs. The batch is a stream of `BulkGrantScript` calls of
/// `linesPerCall` lines each (one AOF fsync per call), then the flushers' dirty mark.
public enum BulkGrantBatch {
    /// Lines per script call: one AOF fsync each with `appendfsync always`, and a bound on how
    /// long one call holds Redis (≈ 15 µs per line here: 500 lines ≈ 7 ms a claim may wait).
    public static let defaultLinesPerCall = 500
    /// Script calls and hint writes queued in Redis at once: enough that a call is always queued
    /// behind the one running; a claim waits behind at most these (≈ 2 calls).
    public static let defaultCallsInFlight = 4

    /// What the lines of a batch came to.
    public struct Outcome: Sendable, Equatable {
        public var granted: [Grant] = []
        /// Lines refused, with the claim refusal code.
        public var refusals: [(line: Int64, userId: String, reason: String)] = []

        public static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.granted == rhs.granted && lhs.refusals.elementsEqual(rhs.refusals) { $0 == $1 }
        }
    }

    public enum Failure: Error, Equatable {
        /// Redis does not know the campaign (never published, or Redis lost it).
        case unknownCampaign
        /// A reply the claim script cannot produce, or a Redis error reply (BUSY, OOM, ...).
        case unexpected(String)
    }

    /// The channel every bulk grant records (issue 12). Grants on it are not put in their
    /// users' wallet indexes (`GrantHints.isIndexed`): see `run`.
    public static let channel = GrantHints.unindexedChannel

    /// The request id of line `line` of job `jobId`.
    public static func requestId(jobId: Int64, line: Int64) -> String { requestIdPrefix(jobId: jobId) + String(line) }

    /// `bulk-<job>-`: what the script prefixes to each line number.
    static func requestIdPrefix(jobId: Int64) -> String { "bulk-\(jobId)-" }

    /// Decides `lines` of job `jobId` on `redis`, `linesPerCall` per script call; codes come from
    /// `codes`; `beforeCall` is told each call's line count before it is sent.
    /// The calls are streamed with `callsInFlight` of them queued in Redis, so Redis always has
    /// the next call to run while the node builds arguments and reads replies (on a cluster, on
    /// the campaign's master). Then, when anything was granted, the campaign is marked in the
    /// flushers' dirty set (`GrantHints.markDirtyCommand`; a batch cut off before it leaves its
    /// entries to the re-run or the flushers' sweep). No wallet-index entries are written: a bulk
    /// grant's user hears of it from the `coupon.granted` webhook, sent once the grant is in
    /// PostgreSQL, where the wallet and checkout read it — and the index's `ZADD`, `PEXPIRE`
    /// and the flusher's `ZREM` would be about a third of Redis' CPU per line.
    public static func run(
        jobId: Int64, campaignId: Int64, lines: [(line: Int64, userId: String)], codes: CouponCodeGenerator,
        linesPerCall: Int = defaultLinesPerCall, callsInFlight: Int = defaultCallsInFlight, on redis: BlockingRedisConnection,
        beforeCall: (_ lines: Int) -> Void = { _ in }
    ) throws -> Outcome {
        precondition((1...2_000).contains(linesPerCall), "the script unpacks a call's lines: Lua's stack holds ~8,000 values")
        let scriptKeys = ClaimScript.keys(CampaignKeys(campaignId: campaignId))
        var sent: [Range<Int>] = []  // calls in flight, oldest first
        var nextLine = 0
        var outcome = Outcome()
        outcome.granted.reserveCapacity(lines.count)
        try redis.stream(
            window: callsInFlight,
            next: {
                guard nextLine < lines.count else { return nil }
                let range = nextLine..<min(nextLine + linesPerCall, lines.count)
                beforeCall(range.count)  // the runner's pacing (`BulkPacing`) may hold the call back here
                var group = nextLine == 0 ? [BulkGrantScript.script.loadCommand] : []  // SCRIPT FLUSH cannot break the batch
                group.append(
                    BulkGrantScript.script.evalshaCommand(
                        keys: scriptKeys, args: BulkGrantScript.arguments(jobId: jobId, channel: channel, lines: lines[range], codes: codes)))
                nextLine = range.upperBound
                sent.append(range)
                return group
            },
            replies: { results in
                let range = sent.removeFirst()
                for result in results.dropLast() { _ = try result.get() }  // SCRIPT LOAD
                let reply = try results.last!.get()
                guard let items = reply.array, items.count == range.count else { throw Failure.unexpected("\(reply)") }
                try decode(jobId: jobId, campaignId: campaignId, lines: lines[range], replies: items, into: &outcome)
            })
        if !outcome.granted.isEmpty { try redis.command(GrantHints.markDirtyCommand([campaignId])) }
        return outcome
    }

    /// Adds the script's replies, one per line, to `outcome`: a grant record (granted, or
    /// replayed by a re-run) or a refusal code.
    static func decode(
        jobId: Int64, campaignId: Int64, lines: ArraySlice<(line: Int64, userId: String)>, replies: [RESPValue], into outcome: inout Outcome
    ) throws {
        for ((line, userId), reply) in zip(lines, replies) {
            guard let text = reply.string else { throw Failure.unexpected("\(reply)") }
            if text.utf8.contains(UInt8(ascii: "|")) {
                guard let grant = Grant(record: text, campaignId: campaignId, userId: userId, requestId: requestId(jobId: jobId, line: line))
                else { throw Failure.unexpected(text) }
                outcome.granted.append(grant)
            } else if text == "unknown_campaign" {
                throw Failure.unknownCampaign
            } else if text == "request_conflict" || ClaimRefusal(rawValue: text) != nil {
                outcome.refusals.append((line, userId, text))
            } else {
                throw Failure.unexpected(text)
            }
        }
    }
}
