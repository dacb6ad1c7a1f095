import CouponCore
import Issuance
import RedisClient

/// Step 2 of an exchange: the claim on the campaign's slot (ARCHITECTURE §3 rules), with one
/// difference from `ClaimScript`: every decision is recorded under the request id, refusals
/// included (`<user>\n!<reason>`). Run again — by the node that started the exchange or by the
/// recovery sweep — it replays that decision, so whoever finishes the exchange (commit or refund)
/// decides from the same answer; a refusal can never turn into a grant after its refund (stock
/// added, window opened, campaign resumed). Plain claims of an exchange campaign are refused
/// by `ClaimScript` (`points_required`); this script is the only way to its coupons.
/// The decision itself is the shared claim rules (`ClaimRules`, the engine's), so an exchange
/// is decided exactly as a claim is (window, validity, eligibility, audience, limit, stock).
public enum ExchangeClaimScript {
    public static let script = RedisScript(source)

    /// ARGV: the request window, user, request id, code, tags (as the claim scripts take them).
    public static func arguments(userId: String, requestId: String, code: CouponCode, tags: [String]) -> [RedisArgument] {
        ClaimScript.arguments(userId: userId, requestId: requestId, code: code, tags: tags)
    }

    /// KEYS: the claim scripts' keys, then the exchange's decision record. The record lives in
    /// its own key under the campaign's tag (a claim's request bucket keeps grants only; an
    /// exchange also records refusals).
    public static func keys(_ keys: CampaignKeys, userId: String, requestId: String) -> [RedisArgument] {
        ClaimScript.keys(keys) + [.string(decisionKey(keys, requestId: requestId))]
    }

    public static func decisionKey(_ keys: CampaignKeys, requestId: String) -> String { "cp:\(keys.tag):xq:\(requestId)" }

    static let source = ClaimRules.lua + DecisionRecord.lua + #"""

        local req, user = KEYS[#KEYS], ARGV[2]
        local replay = decision_replay(req, user)
        if replay then return replay end
        local ctx = claim_context(KEYS[1], KEYS[2], KEYS[3], KEYS[4], {KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, tonumber(ARGV[1]), KEYS[9])
        ctx.exchange = true
        local result = claim(ctx, user, ARGV[3], ARGV[4], ARGV[5])
        claim_finish(ctx)
        if result[1] == 'granted' or result[1] == 'replayed' then
          redis.call('SET', req, user .. '\n' .. result[2], 'PX', ARGV[1])
        elseif result[1] ~= 'request_conflict' then
          redis.call('SET', req, user .. '\n!' .. result[1], 'PX', ARGV[1])
        end
        return result
        """#
}
