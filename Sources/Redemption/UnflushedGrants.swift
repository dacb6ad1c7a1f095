import Issuance
import RedisClient

/// Grants the claim script recorded in the per-user recent-grants lists of published
/// campaigns (`cp:{c:ID}:u:<user>`), which may not have reached PostgreSQL yet.
public enum UnflushedGrants {
    /// Every recent grant of `userId`, in campaign order.
    public static func of(_ userId: String, redis: BlockingRedisConnection) throws -> [Grant] {
        let members = try redis.command(["SMEMBERS", .string(CampaignKeys.registry)])
        let campaignIds = (members.array ?? []).compactMap { $0.string.flatMap(Int64.init) }.sorted()
        guard !campaignIds.isEmpty else { return [] }
        let replies = try redis.pipeline(
            campaignIds.map { ["LRANGE", .string(CampaignKeys(campaignId: $0).recentGrants(of: userId)), "0", "-1"] })
        var grants: [Grant] = []
        for (campaignId, reply) in zip(campaignIds, replies) {
            for record in (try reply.get().array ?? []).compactMap(\.string) {
                if let grant = Grant(record: record, campaignId: campaignId, userId: userId, requestId: "") { grants.append(grant) }
            }
        }
        return grants
    }

    /// The user's recent grant with this code, if any.
    public static func find(code: String, of userId: String, redis: BlockingRedisConnection) throws -> Grant? {
        try of(userId, redis: redis).first { $0.code == code }
    }
}
