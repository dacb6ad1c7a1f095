import CouponCore
import Issuance
import PostgresClient
import RedisClient
import Store

/// A draw as PostgreSQL keeps it.
public struct Draw: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let startMs: Int64
    public let endMs: Int64
    public let attemptLimit: Int64
    public let table: DrawTable
    /// Points one attempt costs (0: free).
    public let pointsCost: Int64
    /// Per tier (table order): the campaign its prize coupons are granted from (0: none).
    public let prizeCampaigns: [Int64]

    public init(
        id: Int64, name: String, startMs: Int64, endMs: Int64, attemptLimit: Int64, table: DrawTable, pointsCost: Int64 = 0, prizeCampaigns: [Int64] = []
    ) {
        self.id = id
        self.name = name
        self.startMs = startMs
        self.endMs = endMs
        self.attemptLimit = attemptLimit
        self.table = table
        self.pointsCost = pointsCost
        self.prizeCampaigns = prizeCampaigns
    }

    /// A prize campaign takes claims until this long after the draw ends (a prize the recovery
    /// sweep grants late still finds its campaign open).
    public static let prizeGraceMs: Int64 = 86_400_000
}

public enum DrawStoreError: Error, Equatable, CustomStringConvertible {
    case unknownTemplate(tier: String, templateId: Int64)
    case invalidPrizeCampaign(tier: String, String)

    public var description: String {
        switch self {
        case .unknownTemplate(let tier, let id): "tier \(tier): no template with id \(id)"
        case .invalidPrizeCampaign(let tier, let problem): "tier \(tier): its prize campaign would be invalid: \(problem)"
        }
    }
}

public enum DrawStore {
    /// Saves the draw and, in the same transaction, one prize campaign per tier with a
    /// template: the template's coupons, the tier's stock, the draw's attempt limit per user,
    /// the draw's window (+ `Draw.prizeGraceMs`), the template's validity, marked as the draw's
    /// prize (`campaign_points.prize_of_draw`).
    public static func create(
        name: String, startMs: Int64, endMs: Int64, attemptLimit: Int64, table: DrawTable, pointsCost: Int64 = 0, on connection: PostgresConnection
    ) throws -> Draw {
        var writer = JSONWriter()
        writer.write(table.json)
        let tableJSON = String(decoding: writer.bytes, as: UTF8.self)
        return try connection.transaction { connection in
            let id = try connection.execute(
                """
                INSERT INTO draws (name, claim_start, claim_end, attempt_limit, prize_table, table_hash, points_cost)
                VALUES ($1, timestamptz 'epoch' + $2 * interval '1 millisecond', timestamptz 'epoch' + $3 * interval '1 millisecond', $4, $5, $6, $7)
                RETURNING id
                """, [name, startMs, endMs, attemptLimit, tableJSON, table.versionHash, pointsCost]
            ).first!.int64(0)
            var prizes: [Int64] = []
            for tier in table.tiers {
                guard let templateId = tier.templateId else {
                    prizes.append(0)
                    continue
                }
                guard let record = try TemplateStore.find(id: templateId, on: connection),
                    let template = try? CouponTemplate(json: JSONParser.parse(record.specJSON))
                else { throw DrawStoreError.unknownTemplate(tier: tier.name, templateId: templateId) }
                let campaign = Campaign(
                    id: 0, templateId: templateId, name: "draw \(id) prize \(tier.name)", stockTotal: tier.stock, perUserLimit: Int(attemptLimit),
                    claimStartMs: startMs, claimEndMs: endMs + Draw.prizeGraceMs, validity: template.validity)
                if let problem = campaign.validationErrors().first {
                    throw DrawStoreError.invalidPrizeCampaign(tier: tier.name, "\(problem.field) \(problem.message)")
                }
                let created = try CampaignStore.insert(campaign, on: connection)
                _ = try PointsStore.saveExchange(campaignId: created.id, settings: .prize(of: id), on: connection)
                prizes.append(created.id)
            }
            _ = try connection.execute("UPDATE draws SET prize_campaigns = $2::bigint[] WHERE id = $1", [id, PostgresArrayLiteral.integers(prizes)])
            return Draw(
                id: id, name: name, startMs: startMs, endMs: endMs, attemptLimit: attemptLimit, table: table, pointsCost: pointsCost, prizeCampaigns: prizes)
        }
    }

    /// Publishes the draw and its prize campaigns to Redis: each prize campaign's marker first
    /// (so no plain claim ever sees it claimable), then the campaign, then the draw. Idempotent.
    public static func publish(_ draw: Draw, on connection: PostgresConnection, redis: BlockingRedisConnection) throws {
        for campaignId in draw.prizeCampaigns where campaignId > 0 {
            _ = try redis.command(ExchangeSettings.prize(of: draw.id).writeCommand(CampaignKeys(campaignId: campaignId)))
            if let campaign = try CampaignStore.find(id: campaignId, on: connection) {
                try CampaignPublisher.publish(campaign, alreadyIssued: 0, on: redis)
            }
        }
        let keys = DrawKeys(drawId: draw.id)
        let call = draw.table.publishCall(
            keys, state: "active", startMs: draw.startMs, endMs: draw.endMs, limit: draw.attemptLimit, pointsCost: draw.pointsCost,
            prizeCampaigns: draw.prizeCampaigns)
        _ = try redis.evalScript(DrawScript.publish, keys: call.keys, args: call.args)
        _ = try redis.command(["SADD", .string(DrawKeys.registry), .string(String(draw.id))])
    }

    public static func draw(id: Int64, on connection: PostgresConnection) throws -> Draw? {
        guard let row = try connection.execute(
            """
            SELECT name, (extract(epoch FROM claim_start) * 1000)::bigint, (extract(epoch FROM claim_end) * 1000)::bigint, attempt_limit, prize_table,
                   points_cost, array_to_string(prize_campaigns, ',')
            FROM draws WHERE id = $1
            """, [id]).first
        else { return nil }
        let table = try DrawTable(json: try JSONParser.parse(try row.string(4)))
        return Draw(
            id: id, name: try row.string(0), startMs: try row.int64(1), endMs: try row.int64(2), attemptLimit: try row.int64(3), table: table,
            pointsCost: try row.int64(5), prizeCampaigns: try row.string(6).split(separator: ",").compactMap { Int64($0) })
    }

    public static func write(_ attempts: [DrawAttempt], on connection: PostgresConnection) throws {
        guard !attempts.isEmpty else { return }
        _ = try connection.execute(
            """
            INSERT INTO draw_attempts (attempt_id, draw_id, user_id, request_id, random, table_hash, selected_tier, outcome_tier, at)
            SELECT a, d, u, q, r, h, s, o, timestamptz 'epoch' + t * interval '1 millisecond'
            FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::int[], $9::bigint[])
                AS x(a, d, u, q, r, h, s, o, t)
            ON CONFLICT (attempt_id) DO NOTHING
            """,
            [
                PostgresArrayLiteral.text(attempts.map(\.attemptId)), PostgresArrayLiteral.integers(attempts.map(\.drawId)),
                PostgresArrayLiteral.text(attempts.map(\.userId)), PostgresArrayLiteral.text(attempts.map(\.requestId)),
                PostgresArrayLiteral.integers(attempts.map(\.random)), PostgresArrayLiteral.text(attempts.map(\.tableHash)),
                PostgresArrayLiteral.integers(attempts.map { Int64($0.selectedTier) }), PostgresArrayLiteral.integers(attempts.map { Int64($0.outcomeTier) }),
                PostgresArrayLiteral.integers(attempts.map(\.atMs)),
            ])
    }

    /// The attempt with its prize campaign (from the draw's table of prize campaigns) and the
    /// prize coupon's code once it is in PostgreSQL.
    public static func prize(of attempt: DrawAttempt, in draw: Draw, on connection: PostgresConnection) throws -> (DrawAttempt, String?) {
        guard attempt.outcomeTier > 0, attempt.outcomeTier <= draw.prizeCampaigns.count, draw.prizeCampaigns[attempt.outcomeTier - 1] > 0 else {
            return (attempt, nil)
        }
        let campaignId = draw.prizeCampaigns[attempt.outcomeTier - 1]
        let full = DrawAttempt(
            drawId: attempt.drawId, userId: attempt.userId, requestId: attempt.requestId, attemptId: attempt.attemptId, random: attempt.random,
            tableHash: attempt.tableHash, selectedTier: attempt.selectedTier, outcomeTier: attempt.outcomeTier, atMs: attempt.atMs,
            prizeCampaignId: campaignId)
        let code = try connection.execute(
            "SELECT code FROM coupons WHERE campaign_id = $1 AND request_id = $2", [campaignId, full.prizeRequestId]
        ).first.map { try $0.string(0) }
        return (full, code)
    }

    /// Prize coupons of a tier's campaign in PostgreSQL (`DrawStats`).
    static func prizeCoupons(campaignId: Int64, on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [campaignId]).first?.int64(0) ?? 0
    }

    public static func attempt(_ attemptId: String, on connection: PostgresConnection) throws -> DrawAttempt? {
        guard let row = try connection.execute(
            """
            SELECT draw_id, user_id, request_id, random, table_hash, selected_tier, outcome_tier, (extract(epoch FROM at) * 1000)::bigint
            FROM draw_attempts WHERE attempt_id = $1
            """, [attemptId]).first
        else { return nil }
        return DrawAttempt(
            drawId: try row.int64(0), userId: try row.string(1), requestId: try row.string(2), attemptId: attemptId, random: try row.int64(3),
            tableHash: try row.string(4), selectedTier: try row.int(5), outcomeTier: try row.int(6), atMs: try row.int64(7))
    }
}
