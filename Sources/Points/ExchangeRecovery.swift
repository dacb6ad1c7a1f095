import CouponCore
import Foundation
import Issuance
import RedisClient

/// The exchange recovery sweep: finishes reservations left pending longer than a grace period
/// (the node running them died or lost Redis between steps). For each, it runs step 2 (the
/// recorded claim: a replay when the claim already ran, the decision otherwise) and step 3,
/// exactly as the node would have. Idempotent and safe to run on every node at once.
public enum ExchangeRecovery {
    @discardableResult
    public static func sweep(
        redis: BlockingRedisConnection, olderThanMs: Int64,
        log: (String, [String: String]) -> Void = { _, _ in }
    ) throws -> Int {
        let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - olderThanMs
        var count = 0
        let pending = try redis.pipeline(PointsKeys.all.map { ["ZRANGEBYSCORE", .string($0.pending), "-inf", .int(cutoff), "LIMIT", "0", "200"] })
        for (keys, reply) in zip(PointsKeys.all, pending) {
            for member in (try reply.get().array ?? []).compactMap(\.string) {
                let fields = try redis.command(["HMGET", .string(keys.reservation(member)), "user", "campaign", "request", "tags", "draw"]).array ?? []
                let values = fields.map(\.string)
                if values.count == 5, let user = values[0], let rid = values[2], let drawId = values[4].flatMap(Int64.init) {
                    // A paid draw attempt (`DrawRunner`).
                    let finished = try DrawRecovery.finish(ExchangeRequest(drawId: drawId, userId: user, requestId: rid), redis: redis)
                    log("draw_attempt_recovered", ["member": member, "detail": finished?.detail ?? "?"])
                    count += 1
                    continue
                }
                guard values.count == 5, let user = values[0], let campaign = values[1].flatMap(Int64.init), let rid = values[2] else {
                    // Unreadable or gone: finish's own check removes it from the pending set.
                    _ = try redis.command(["ZREM", .string(keys.pending), .string(member)])
                    continue
                }
                let request = ExchangeRequest(
                    campaignId: campaign, userId: user, requestId: rid,
                    tags: (values[3] ?? "").split(separator: ",").map(String.init))
                let reply = try redis.evalScript(
                    ExchangeClaimScript.script,
                    keys: ExchangeClaimScript.keys(request.campaignKeys, userId: user, requestId: rid),
                    args: ExchangeClaimScript.arguments(userId: user, requestId: rid, code: CouponCode.random(), tags: request.tags))
                guard let decision = ClaimDecision(reply: reply, campaignId: campaign, userId: user, requestId: rid) else {
                    log("exchange_recovery_bad_reply", ["member": member, "reply": "\(reply)"])
                    continue
                }
                let (commit, detail) = Exchange.finishing(decision)
                let call = Exchange.finishCall(request, commit: commit, detail: detail)
                let finished = try redis.evalScript(PointsScripts.finish, keys: call.keys, args: call.args)
                if case .granted(let grant) = decision {
                    _ = try? redis.command(GrantHints.markDirtyCommand([grant.campaignId]))
                }
                log("exchange_recovered", ["member": member, "outcome": finished.array?.first?.string ?? "?", "detail": detail])
                count += 1
            }
        }
        return count
    }
}
