import PostgresClient
import RedisClient

/// Points given back when an exchange coupon is revoked unused (`refund_points: true` on
/// `POST /v1/coupons/{code}/revoke`, issue 11): the exchange's spend comes back as one `refund`
/// ledger entry naming the same campaign and request (the coupon it paid for), at most once per
/// coupon however often the revoke is repeated. Restoring a redeemed coupon never refunds: the
/// coupon is back in the wallet, the points stay spent.
public enum PointsRefund {
    public enum Outcome: Sendable, Equatable {
        case refunded(points: Int64, balance: Int64)
        /// Refunded by an earlier revoke of the same coupon.
        case replayed(points: Int64)
        /// The coupon was not bought with points (a plain claim, a prize, a bulk grant).
        case notExchange
    }

    /// Refunds the spend of the exchange that granted `code` to `userId`. The cost is read from
    /// the ledger, else from the exchange's reservation while Redis still keeps it.
    public static func revoked(code: String, userId: String, postgres: PostgresConnection, redis: BlockingRedisConnection) throws -> Outcome {
        guard let (campaignId, requestId) = try PointsStore.couponOrigin(code: code, userId: userId, on: postgres) else { return .notExchange }
        let request = ExchangeRequest(campaignId: campaignId, userId: userId, requestId: requestId)
        let keys = request.pointsKeys
        var cost = try PointsStore.exchangeCost(campaignId: campaignId, requestId: requestId, userId: userId, on: postgres)
        if cost == nil {
            cost = try redis.command(["HGET", .string(keys.reservation(request.member)), "cost"]).string.flatMap(Int64.init)
        }
        guard let cost, cost > 0 else { return .notExchange }
        let reply = try redis.evalScript(
            PointsScripts.revokeRefund,
            keys: [
                .string(keys.account(userId)), .string(keys.due), .string(keys.events),
                .string(keys.revokeRefund(campaignId: campaignId, requestId: requestId)), .string(keys.reservation(request.member)),
                .string(keys.ready),
            ],
            args: [.string(userId), .int(cost), .string(String(campaignId)), .string(requestId), .string(code)])
        guard let items = reply.array, let head = items.first?.string else { throw RedisError.protocolError("unexpected refund reply \(reply)") }
        switch head {
        case "ok":
            let parts = items.count == 2 ? (items[1].string ?? "").split(separator: "|") : []
            return .refunded(points: cost, balance: parts.count == 3 ? Int64(parts[1]) ?? 0 : 0)
        case "replayed": return .replayed(points: cost)
        case "refunded_already": return .notExchange
        case "rebuilding": throw RedisError.protocolError("the user's points account is being rebuilt from PostgreSQL; retry")
        default: throw RedisError.protocolError("unexpected refund reply \(reply)")
        }
    }
}
