import Foundation
import Issuance
import RedisClient

/// Grants of one user that may not have reached PostgreSQL yet, read from the user's grant
/// index (`GrantHints.userIndex`): one `ZRANGE` whatever the number of campaigns. The index is
/// written by the granting node right after its reply, so it can miss a grant for as long as
/// that grant is unflushed when the node died (or Redis failed) in between; README states the bound.
public enum UnflushedGrants {
    /// Every indexed grant of `userId`, by campaign, then issue time.
    public static func of(_ userId: String, redis: BlockingRedisConnection) throws -> [Grant] {
        let reply = try redis.command(GrantHints.readCommand(userId: userId))
        let grants = (reply.array ?? []).compactMap { $0.string.flatMap { GrantHints.grant(member: $0, userId: userId) } }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        if let oldest = grants.map(\.issuedAtMs).min(), oldest < nowMs - GrantHints.userIndexTTLMs {
            try redis.command(GrantHints.trimCommand(userId: userId, nowMs: nowMs))  // long flushed; keeps the index small
        }
        return grants.sorted { ($0.campaignId, $0.issuedAtMs, $0.code) < ($1.campaignId, $1.issuedAtMs, $1.code) }
    }

    /// The user's indexed grant with this code, if any.
    public static func find(code: String, of userId: String, redis: BlockingRedisConnection) throws -> Grant? {
        try of(userId, redis: redis).first { $0.code == code }
    }
}
