import CouponCore
import Issuance
import RedisClient

/// One batch of a bulk job decided in Redis: every line runs the claim script, the same
/// decision as an HTTP claim (state, window, eligibility, per-user limit, stock), with the
/// request id `bulk-<job>-<line>`. A line decided before (the batch is re-run after a crash or
/// a takeover) is answered `replayed` with its first grant, never a second one, so a job is
/// exactly-once however often a batch runs. The batch is one pipeline of `ClaimBatchScript`
/// calls — the engine's batched claim, the shared claim rules once per line inside each call —
/// so a line is decided exactly as an HTTP claim is: one round trip, one fsync per call.
public enum BulkGrantBatch {
    /// Lines per script call: one AOF fsync each with `appendfsync always`, and a bound on how
    /// long one call holds Redis (≈ this many claim decisions).
    public static let linesPerCall = 200

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
    public static func requestId(jobId: Int64, line: Int64) -> String { "bulk-\(jobId)-\(line)" }

    /// Decides `lines` of job `jobId` on `redis`; codes come from `codes`.
    public static func run(
        jobId: Int64, campaignId: Int64, lines: [(line: Int64, userId: String)], codes: CouponCodeGenerator,
        on redis: BlockingRedisConnection
    ) throws -> Outcome {
        let keys = CampaignKeys(campaignId: campaignId)
        var commands: [[RedisArgument]] = [ClaimBatchScript.script.loadCommand]  // SCRIPT FLUSH cannot break the batch
        let scriptKeys = ClaimScript.keys(keys)
        for start in stride(from: 0, to: lines.count, by: linesPerCall) {
            let slice = lines[start..<min(start + linesPerCall, lines.count)]
            let args = ClaimBatchScript.arguments(
                slice.map { (userId: $0.userId, requestId: requestId(jobId: jobId, line: $0.line), code: codes.code(), tags: [], channel: channel) })
            commands.append(ClaimBatchScript.script.evalshaCommand(keys: scriptKeys, args: args))
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
        if !outcome.granted.isEmpty {
            // The wallet's index of unflushed grants and the flushers' hint, as a claim writes them.
            var hints = outcome.granted.flatMap(GrantHints.indexCommands)
            hints.append(GrantHints.markDirtyCommand([campaignId]))
            for result in try redis.pipeline(hints) { _ = try result.get() }
        }
        return outcome
    }

    /// Maps the claim script's replies, one per line.
    static func decode(jobId: Int64, campaignId: Int64, lines: [(line: Int64, userId: String)], replies: [RESPValue]) throws -> Outcome {
        var outcome = Outcome()
        for ((line, userId), reply) in zip(lines, replies) {
            let requestId = requestId(jobId: jobId, line: line)
            guard let decision = ClaimDecision(reply: reply, campaignId: campaignId, userId: userId, requestId: requestId) else {
                throw Failure.unexpected("\(reply)")
            }
            switch decision {
            case .granted(let grant), .replayed(let grant): outcome.granted.append(grant)
            case .refused(let refusal): outcome.refusals.append((line, userId, refusal.rawValue))
            case .requestConflict: outcome.refusals.append((line, userId, "request_conflict"))
            case .unknownCampaign: throw Failure.unknownCampaign
            }
        }
        return outcome
    }
}
