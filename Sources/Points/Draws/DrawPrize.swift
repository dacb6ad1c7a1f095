import CouponCore
import Issuance
import RedisClient

/// Grants the prize coupon of a won draw attempt (issue 11): a claim of the tier's prize
/// campaign under the request id `draw:<draw>:<request>`, decided by the shared claim rules
/// (`ClaimRules`) exactly as an exchange's claim is (`ctx.exchange`: a prize campaign carries
/// the exchange marker so that plain claims are refused), so the coupon goes through the
/// campaign's grant stream to PostgreSQL, wallet and checkout like any coupon. The prize
/// campaign's stock equals the tier's and its per-user limit the draw's attempt limit, so a win
/// decided by the draw script always finds its unit. Idempotent: a retry replays the grant.
/// Refusals are not recorded: the attempt stays in the draw's `prizes` set and is retried.
public enum DrawPrize {
    public static let script = RedisScript(source)

    public static func keys(campaignId: Int64) -> [RedisArgument] { ClaimScript.keys(CampaignKeys(campaignId: campaignId)) }

    public static func arguments(_ attempt: DrawAttempt, code: CouponCode) -> [RedisArgument] {
        ClaimScript.arguments(userId: attempt.userId, requestId: attempt.prizeRequestId, code: code, tags: [])
    }

    /// The command that forgets a granted prize in the draw's pending set.
    public static func grantedCommand(_ attempt: DrawAttempt) -> [RedisArgument] {
        ["ZREM", .string(DrawKeys(drawId: attempt.drawId).prizes), .string(attempt.requestId)]
    }

    static let source = ClaimRules.lua + #"""

        local ctx = claim_context(KEYS[1], KEYS[2], KEYS[3], KEYS[4], {KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, tonumber(ARGV[1]), KEYS[9])
        ctx.exchange = true
        local result = claim(ctx, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
        claim_finish(ctx)
        return result
        """#
}
