import CouponCore
import Issuance
import RedisClient

/// One batch of a bulk job decided in Redis: every line gets the same decision as an HTTP claim
/// (state, window, eligibility, per-user limit, stock — the shared claim rules), with the request
/// id `bulk-<job>-<line>`. A line decided before (the batch is re-run after a crash or a
/// takeover) is answered with its first grant, never a second one, so a job is exactly-once
/// however often a batch runs. The batch is one pipeline of `BulkGrantScript` calls of
/// `linesPerCall` lines each: one round trip, one AOF fsync per call.
public enum BulkGrantBatch {
    /// Lines per script call: one AOF fsync each with `appendfsync always`, and a bound on how
    /// long one call holds Redis (≈ 15 µs per line here: 500 lines ≈ 7 ms a claim may wait).
    public static let defaultLinesPerCall = 500
    /// Grants whose user-index hints go in one `MULTI … EXEC` (one AOF write, ≈ 4 ms of Redis).
    static let hintsPerWrite = 1_000

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

    /// The channel every bulk grant records (issue 12).
    public static let channel = "bulk"

    /// The request id of line `line` of job `jobId`.
    public static func requestId(jobId: Int64, line: Int64) -> String { requestIdPrefix(jobId: jobId) + String(line) }

    /// `bulk-<job>-`: what the script prefixes to each line number.
    static func requestIdPrefix(jobId: Int64) -> String { "bulk-\(jobId)-" }

    /// Decides `lines` of job `jobId` on `redis`, `linesPerCall` per script call; codes come from `codes`.
    public static func run(
        jobId: Int64, campaignId: Int64, lines: [(line: Int64, userId: String)], codes: CouponCodeGenerator,
        linesPerCall: Int = defaultLinesPerCall, on redis: BlockingRedisConnection
    ) throws -> Outcome {
        let scriptKeys = ClaimScript.keys(CampaignKeys(campaignId: campaignId))
        var commands: [[RedisArgument]] = [BulkGrantScript.script.loadCommand]  // SCRIPT FLUSH cannot break the batch
        for start in stride(from: 0, to: lines.count, by: linesPerCall) {
            let args = BulkGrantScript.arguments(
                jobId: jobId, channel: channel, lines: lines[start..<min(start + linesPerCall, lines.count)], codes: codes)
            commands.append(BulkGrantScript.script.evalshaCommand(keys: scriptKeys, args: args))
        }
        let replies = try redis.pipeline(commands)
        _ = try replies[0].get()
        var perLine: [RESPValue] = []
        perLine.reserveCapacity(lines.count)
        for reply in replies.dropFirst() {
            guard let items = try reply.get().array else { throw Failure.unexpected("\(reply)") }
            perLine.append(contentsOf: items)
        }
        guard perLine.count == lines.count else { throw Failure.unexpected("\(perLine.count) replies for \(lines.count) lines") }
        let outcome = try decode(jobId: jobId, campaignId: campaignId, lines: lines, replies: perLine)
        try writeHints(outcome.granted, campaignId: campaignId, on: redis)
        return outcome
    }

    /// The wallet's index of unflushed grants and the flushers' hint, as a claim writes them, a
    /// thousand grants per `MULTI … EXEC`: one AOF fsync each instead of one per 16 KiB of commands.
    static func writeHints(_ granted: [Grant], campaignId: Int64, on redis: BlockingRedisConnection) throws {
        guard !granted.isEmpty else { return }
        for start in stride(from: 0, to: granted.count, by: hintsPerWrite) {
            var hints = granted[start..<min(start + hintsPerWrite, granted.count)].flatMap(GrantHints.indexCommands)
            if start + hintsPerWrite >= granted.count { hints.append(GrantHints.markDirtyCommand([campaignId])) }
            for result in try redis.pipelineAsOneWrite(hints) { _ = try result.get() }
        }
    }

    /// Maps the script's replies, one per line: a grant record (granted, or replayed by a re-run)
    /// or a refusal code.
    static func decode(jobId: Int64, campaignId: Int64, lines: [(line: Int64, userId: String)], replies: [RESPValue]) throws -> Outcome {
        var outcome = Outcome()
        outcome.granted.reserveCapacity(lines.count)
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
        return outcome
    }
}
