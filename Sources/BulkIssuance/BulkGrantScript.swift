import CouponCore
import Issuance
import RedisClient

/// Many lines of one bulk job decided in one script call: the shared claim rules
/// (`ClaimRules.claim`, the HTTP claim's decision) once per line, in line order, exactly as
/// `ClaimBatchScript` runs them, with three savings that change no decision:
/// - every line's request record (current and previous bucket) and every user's count are
///   read with one `HMGET` each before the first line is decided (`ctx.prefetched`): nothing
///   else runs inside the call, so these are the values `claim` would have read one by one;
/// - request ids are `bulk-<job>-<line>`, built in the script from the prefix and the line
///   number (fewer bytes to send, so fewer of Redis' 16 KiB reads, each one AOF fsync);
/// - one flat reply per line: the grant record `code|at|valid_from|valid_until|stream_id`
///   when granted (or replayed: a re-run batch), else the refusal code.
/// Same KEYS as the claim scripts (`ClaimScript.keys`).
public enum BulkGrantScript {
    public static let script = RedisScript(source)

    /// ARGV: the request window, the request id prefix, the channel, then `line, user, code` per line.
    public static func arguments(
        jobId: Int64, channel: String, lines: ArraySlice<(line: Int64, userId: String)>, codes: CouponCodeGenerator
    ) -> [RedisArgument] {
        var args: [RedisArgument] = [.int(ClaimScript.requestTTLMs), .string(BulkGrantBatch.requestIdPrefix(jobId: jobId)), .string(channel)]
        args.reserveCapacity(3 + lines.count * 3)
        for (line, userId) in lines {
            args.append(.int(line))
            args.append(.string(userId))
            args.append(.string(codes.code().value))
        }
        return args
    }

    static let source = ClaimRules.lua + #"""

        local ctx = claim_context(KEYS[1], KEYS[2], KEYS[3], KEYS[4], {KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, tonumber(ARGV[1]), KEYS[9])
        local prefix, channel = ARGV[2], ARGV[3]
        local rids, users = {}, {}
        for i = 4, #ARGV, 3 do
          rids[#rids + 1] = prefix .. ARGV[i]
          users[#users + 1] = ARGV[i + 1]
        end
        local current = redis.call('HMGET', ctx.bucket, unpack(rids))
        local previous = redis.call('HMGET', ctx.previous, unpack(rids))
        for n, rid in ipairs(rids) do
          local prior = current[n] or previous[n]
          if prior then ctx.written[rid] = prior end
        end
        local counts = redis.call('HMGET', ctx.users, unpack(users))
        for n, user in ipairs(users) do
          if not ctx.claimed[user] then ctx.claimed[user] = tonumber(counts[n] or '0') end
        end
        ctx.prefetched = true
        local results = {}
        for n, rid in ipairs(rids) do
          local r = claim(ctx, users[n], rid, ARGV[3 + 3 * n], '', channel)
          results[n] = r[2] or r[1]
        end
        claim_finish(ctx)
        return results
        """#
}
