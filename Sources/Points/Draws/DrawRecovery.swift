import CouponCore
import Foundation
import Issuance
import RedisClient

/// Finishes draw attempts a node left half done (issue 11), run by the points thread with the
/// exchange recovery sweep: a paid attempt's pending reservation (the draw script replays its
/// recorded decision, or decides now, then the points are committed or refunded) and a won
/// attempt whose prize coupon was not granted (`DrawPrize`, idempotent by its request id).
/// Idempotent and safe to run on every node at once.
public enum DrawRecovery {
    /// Step 2 and 3 of a paid attempt's reservation whose node died.
    static func finish(_ request: ExchangeRequest, redis: BlockingRedisConnection) throws -> (commit: Bool, detail: String)? {
        guard let drawId = request.drawId else { return nil }
        var generator = SystemRandomNumberGenerator()
        let reply = try redis.evalScript(
            DrawScript.script, keys: DrawScript.keys(DrawKeys(drawId: drawId), requestId: request.requestId),
            args: DrawScript.arguments(userId: request.userId, requestId: request.requestId, random: DrawTable.random(using: &generator)))
        guard let decision = DrawAttempt.decision(reply: reply, drawId: drawId, userId: request.userId, requestId: request.requestId) else { return nil }
        let (commit, detail) = DrawRunner.finishing(decision)
        let call = Exchange.finishCall(request, commit: commit, detail: detail)
        _ = try redis.evalScript(PointsScripts.finish, keys: call.keys, args: call.args)
        return (commit, detail)
    }

    /// Grants the prizes of attempts won more than `olderThanMs` ago and still pending.
    @discardableResult
    public static func sweepPrizes(
        redis: BlockingRedisConnection, olderThanMs: Int64, log: (String, [String: String]) -> Void = { _, _ in }
    ) throws -> Int {
        let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - olderThanMs
        let draws = (try redis.command(["SMEMBERS", .string(DrawKeys.registry)]).array ?? []).compactMap { $0.string.flatMap(Int64.init) }
        var count = 0
        for drawId in draws.sorted() {
            let keys = DrawKeys(drawId: drawId)
            let pending = try redis.command(["ZRANGEBYSCORE", .string(keys.prizes), "-inf", .int(cutoff), "LIMIT", "0", "200"]).array ?? []
            for requestId in pending.compactMap(\.string) {
                let record = try redis.command(["GET", .string(keys.request(requestId))]).string ?? ""
                guard let sep = record.firstIndex(of: "\n"),
                    let attempt = DrawAttempt(
                        record: String(record[record.index(after: sep)...]), drawId: drawId, userId: String(record[..<sep]), requestId: requestId),
                    let campaignId = attempt.prizeCampaignId
                else {
                    log("draw_prize_unreadable", ["draw_id": String(drawId), "request_id": requestId])
                    _ = try redis.command(["ZREM", .string(keys.prizes), .string(requestId)])
                    continue
                }
                let reply = try redis.evalScript(DrawPrize.script, keys: DrawPrize.keys(campaignId: campaignId), args: DrawPrize.arguments(attempt, code: .random()))
                switch ClaimDecision(reply: reply, campaignId: campaignId, userId: attempt.userId, requestId: attempt.prizeRequestId) {
                case .granted?, .replayed?:
                    _ = try redis.pipeline([DrawPrize.grantedCommand(attempt), GrantHints.markDirtyCommand([campaignId])])
                    log("draw_prize_recovered", ["attempt_id": attempt.attemptId, "campaign_id": String(campaignId)])
                    count += 1
                default:
                    log("draw_prize_refused", ["attempt_id": attempt.attemptId, "reply": "\(reply)"])
                }
            }
        }
        return count
    }
}
