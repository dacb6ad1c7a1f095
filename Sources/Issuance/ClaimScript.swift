import CouponCore
import Foundation
import RedisClient

/// The claim decision for one claim (ARCHITECTURE §3), the rules of `ClaimRules`: idempotency
/// lookup, campaign state and window, eligibility, per-user limit, stock; then the writes,
/// which cannot fail: the grant appended to the stream, the request record, the counters.
/// Time comes from Redis `TIME`; the code comes from the node's CSPRNG.
public enum ClaimScript {
    public static let script = RedisScript(source)

    /// How long a request id is remembered at least (at most twice this): a retry within this
    /// window never grants twice. Also the width of one request bucket.
    public static let requestTTLMs: Int64 = 24 * 3_600_000

    /// KEYS of both claim scripts, all under the campaign's hash tag: meta, stock, users, grants,
    /// then the request buckets of windows n-2…n+1 around `nowMs` (the node's clock); the
    /// script uses the two of Redis' `TIME` (so a node clock off by less than a window is harmless);
    /// then the audience set and the period caps' keys (`PeriodCapsRules`, found by name).
    public static func keys(_ keys: CampaignKeys, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> [RedisArgument] {
        [.string(keys.meta), .string(keys.stock), .string(keys.users), .string(keys.grants)] + requestBuckets(keys, nowMs: nowMs)
            + [.string(keys.audience)] + keys.periodKeys.map(RedisArgument.string)
    }

    /// The request buckets of windows n-2…n+1 around `nowMs`.
    public static func requestBuckets(_ keys: CampaignKeys, nowMs: Int64) -> [RedisArgument] {
        let number = nowMs / requestTTLMs
        return (number - 2...number + 1).map { .string(keys.requestBucket($0)) }
    }

    public static func arguments(userId: String, requestId: String, code: CouponCode, tags: [String], channel: String = "") -> [RedisArgument] {
        [.int(requestTTLMs), .string(userId), .string(requestId), .string(code.value), .string(tags.joined(separator: ",")), .string(channel)]
    }

    static let source = ClaimRules.lua + #"""

        local ctx = claim_context(KEYS[1], KEYS[2], KEYS[3], KEYS[4], {KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, tonumber(ARGV[1]), KEYS[9])
        local result = claim(ctx, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
        claim_finish(ctx)
        return result
        """#
}

/// Up to `--claim-batch-max` claims of one campaign in one script call: each decided in order
/// by `ClaimRules.claim`, exactly as separate `ClaimScript` calls would decide them, each with
/// its own reply. One call, one `TIME`, one meta read and one set of counter writes for all.
public enum ClaimBatchScript {
    public static let script = RedisScript(source)

    /// ARGV: the request window, then `user, request, code, tags, channel` per claim, in order.
    public static func arguments(_ claims: [(userId: String, requestId: String, code: CouponCode, tags: [String], channel: String)]) -> [RedisArgument] {
        var args: [RedisArgument] = [.int(ClaimScript.requestTTLMs)]
        args.reserveCapacity(1 + claims.count * 5)
        for claim in claims {
            args += [
                .string(claim.userId), .string(claim.requestId), .string(claim.code.value), .string(claim.tags.joined(separator: ",")),
                .string(claim.channel),
            ]
        }
        return args
    }

    /// Claims that name no channel.
    public static func arguments(_ claims: [(userId: String, requestId: String, code: CouponCode, tags: [String])]) -> [RedisArgument] {
        arguments(claims.map { (userId: $0.userId, requestId: $0.requestId, code: $0.code, tags: $0.tags, channel: "") })
    }

    static let source = ClaimRules.lua + #"""

        local ctx = claim_context(KEYS[1], KEYS[2], KEYS[3], KEYS[4], {KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, tonumber(ARGV[1]), KEYS[9])
        local results = {}
        for i = 2, #ARGV, 5 do results[#results + 1] = claim(ctx, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]) end
        claim_finish(ctx)
        return results
        """#
}
