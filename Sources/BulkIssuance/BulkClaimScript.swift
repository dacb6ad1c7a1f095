import CouponCore
import Issuance
import RedisClient

/// Many lines of a bulk job in ONE script call: the claim script's own source, unchanged, wrapped
/// as a Lua function and called once per line, so the decision is the claim decision by
/// construction. Why: with `appendfsync always` Redis fsyncs once per event-loop iteration, and
/// it reads one client's pipeline 16 KiB at a time, so a pipeline of single-line scripts paid
/// an fsync every ~30 lines; one call per `linesPerCall` lines pays one. A call holds Redis for
/// its lines only (~`linesPerCall` × the script's cost), which bounds what a job adds to a
/// concurrent claim's latency.
public enum BulkClaimScript {
    public static let linesPerCall = 200

    public static let script = RedisScript(source)

    /// KEYS: meta, stock, users, grants, audience, then per line its request key and recent-grants key.
    /// ARGV: request TTL, recent TTL, then per line user, request id, code.
    public static func command(
        _ keys: CampaignKeys, lines: ArraySlice<(line: Int64, userId: String)>, jobId: Int64, codes: CouponCodeGenerator
    ) -> [RedisArgument] {
        var keyArgs: [RedisArgument] = [.string(keys.meta), .string(keys.stock), .string(keys.users), .string(keys.grants), .string(keys.audience)]
        var args: [RedisArgument] = [.int(ClaimScript.requestTTLMs), .int(ClaimScript.recentGrantsTTLMs)]
        keyArgs.reserveCapacity(5 + 2 * lines.count)
        args.reserveCapacity(2 + 3 * lines.count)
        for (line, userId) in lines {
            let requestId = BulkGrantBatch.requestId(jobId: jobId, line: line)
            keyArgs.append(.string(keys.request(requestId)))
            keyArgs.append(.string(keys.recentGrants(of: userId)))
            args.append(.string(userId))
            args.append(.string(requestId))
            args.append(.string(codes.code().value))
        }
        return script.evalshaCommand(keys: keyArgs, args: args)
    }

    static let source = """
        local function decide(KEYS, ARGV)
        \(ClaimScript.sourceText)
        end
        local out = {}
        local n = (#KEYS - 5) / 2
        for i = 1, n do
          local k = {KEYS[1], KEYS[2], KEYS[3], KEYS[4 + 2 * i], KEYS[4], KEYS[5 + 2 * i], KEYS[5]}
          local a = {ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2], ARGV[1], '', ARGV[2]}
          out[i] = decide(k, a)
        end
        return out
        """
}
