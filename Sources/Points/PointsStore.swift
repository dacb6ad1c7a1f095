import Issuance
import PostgresClient
import RedisClient

/// PostgreSQL reads and writes of the points feature: campaigns' exchange settings (the record
/// the Redis meta fields are published from) and the ledger's history.
public enum PointsStore {
    /// Saves `settings` for `campaignId`; false when the campaign does not exist.
    public static func saveExchange(campaignId: Int64, settings: ExchangeSettings, on connection: PostgresConnection) throws -> Bool {
        let rows = try connection.execute(
            """
            INSERT INTO campaign_points (campaign_id, points_cost, min_points_balance, prize_of_draw)
            SELECT id, $2, $3, $4 FROM campaigns WHERE id = $1
            ON CONFLICT (campaign_id) DO UPDATE SET points_cost = EXCLUDED.points_cost,
                min_points_balance = EXCLUDED.min_points_balance, updated_at = now()
            """, [campaignId, settings.pointsCost, settings.minPointsBalance, settings.prizeOfDraw])
        return rows.rowsAffected == 1
    }

    public static func exchanges(on connection: PostgresConnection) throws -> [(Int64, ExchangeSettings)] {
        try connection.execute("SELECT campaign_id, points_cost, min_points_balance, prize_of_draw FROM campaign_points ORDER BY campaign_id").map {
            (try $0.int64(0), ExchangeSettings(pointsCost: try $0.int64(1), minPointsBalance: try $0.int64(2), prizeOfDraw: try $0.optionalInt64(3)))
        }
    }

    /// Writes one campaign's exchange settings (if it has any) into its meta hash.
    public static func publishExchange(campaignId: Int64, from postgres: PostgresConnection, to redis: BlockingRedisConnection) throws {
        guard let row = try postgres.execute(
            "SELECT points_cost, min_points_balance, prize_of_draw FROM campaign_points WHERE campaign_id = $1", [campaignId]).first
        else { return }
        let settings = ExchangeSettings(pointsCost: try row.int64(0), minPointsBalance: try row.int64(1), prizeOfDraw: try row.optionalInt64(2))
        _ = try redis.command(settings.writeCommand(CampaignKeys(campaignId: campaignId)))
    }

    /// Writes every exchange campaign's settings into its meta hash. Runs before campaigns are
    /// (re-)published, so a meta hash rebuilt after Redis lost it never lets a plain claim through.
    public static func publishExchanges(from postgres: PostgresConnection, to redis: BlockingRedisConnection) throws {
        let all = try exchanges(on: postgres)
        guard !all.isEmpty else { return }
        for result in try redis.pipeline(all.map { $0.1.writeCommand(CampaignKeys(campaignId: $0.0)) }) { _ = try result.get() }
    }

    /// A page of the user's ledger, newest first; `beforeSeq` continues after a previous page.
    public static func history(userId: String, beforeSeq: Int64?, limit: Int, on connection: PostgresConnection) throws -> [PointsEvent] {
        try connection.execute(
            """
            SELECT seq, kind, points, balance_after, (extract(epoch FROM at) * 1000)::bigint,
                   (extract(epoch FROM lot_expires_at) * 1000)::bigint, reason, order_id, idempotency_key, campaign_id, request_id, draw_id
            FROM points_ledger WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3
            """, [userId, beforeSeq ?? Int64.max, Int64(limit)]
        ).map { row in
            PointsEvent(
                userId: userId, seq: try row.int64(0), kind: PointsEventKind(rawValue: try row.string(1)) ?? .adjust,
                points: try row.int64(2), balanceAfter: try row.int64(3), atMs: try row.int64(4), lotExpiryMs: try row.optionalInt64(5),
                reason: try row.optionalString(6), orderId: try row.optionalString(7), idempotencyKey: try row.optionalString(8),
                requestId: try row.optionalString(10), campaignId: try row.optionalInt64(9), drawId: try row.optionalInt64(11))
        }
    }
}
