import CouponCore
import HTTPServer
import Issuance
import RedisClient
import Store

/// `GET /v1/users/{user_id}/coupons` (role `checkout`): the user's coupons from PostgreSQL,
/// plus grants still on their way there (read from the per-user recent-grants lists in Redis).
struct WalletHandler {
    let api: API

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let userId = parameters["user_id"], Identifier.isValid(userId) else {
            return responder.respond(APIError.invalid("user_id must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @"))
        }
        api.blocking(responder) { context in
            let stored = try CouponStore.forUser(userId, on: context.postgres())
            let pending = try Self.unflushedGrants(of: userId, redis: context.redis())
            let known = Set(stored.map(\.code))
            let body = JSONWriter.object { object in
                object.field("user_id", userId)
                object.arrayField("coupons") { array in
                    for coupon in stored {
                        array.objectElement { Self.fields(coupon, into: &$0) }
                    }
                    for grant in pending where !known.contains(grant.code) {
                        array.objectElement { item in
                            ClaimHandler.grantFields(grant, into: &item)
                            item.field("flushed", false)
                        }
                    }
                }
            }
            return .json(body: body)
        }
    }

    /// Grants recorded by the claim script for this user, across published campaigns.
    static func unflushedGrants(of userId: String, redis: BlockingRedisConnection) throws -> [Grant] {
        let members = try redis.command(["SMEMBERS", .string(CampaignKeys.registry)])
        let campaignIds = (members.array ?? []).compactMap { $0.string.flatMap(Int64.init) }.sorted()
        guard !campaignIds.isEmpty else { return [] }
        let replies = try redis.pipeline(campaignIds.map { ["LRANGE", .string(CampaignKeys(campaignId: $0).recentGrants(of: userId)), "0", "-1"] })
        var grants: [Grant] = []
        for (campaignId, reply) in zip(campaignIds, replies) {
            for record in (try reply.get().array ?? []).compactMap(\.string) {
                if let grant = Grant(record: record, campaignId: campaignId, userId: userId, requestId: "") { grants.append(grant) }
            }
        }
        return grants
    }

    static func fields(_ coupon: CouponRecord, into object: inout JSONObjectWriter) {
        object.field("code", coupon.code)
        object.field("campaign_id", coupon.campaignId)
        object.field("user_id", coupon.userId)
        object.field("request_id", coupon.requestId)
        object.field("state", coupon.state)
        object.field("issued_at", RFC3339.format(epochMs: coupon.issuedAtMs))
        object.field("valid_from", RFC3339.format(epochMs: coupon.validFromMs))
        object.field("valid_until", RFC3339.format(epochMs: coupon.validUntilMs))
        object.field("flushed", true)
    }
}
