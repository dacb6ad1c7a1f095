import PostgresClient

/// The coupond schema, one migration per version. Applied by `coupond migrate`, at node start
/// and at test start; never edit a migration that has shipped, add a new one.
public enum CouponSchema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "initial", sql: v1Initial),
        Migration(version: 2, name: "checkout", sql: v2Checkout),
        Migration(version: 3, name: "ledger without foreign keys", sql: v3LedgerForeignKeys),
        Migration(version: 4, name: "idempotency keys", sql: v4IdempotencyKeys),
        Migration(version: 5, name: "store keys", sql: v5StoreKeys),
        Migration(version: 6, name: "points", sql: v6Points),  // issue 11 (points branch)
        Migration(version: 7, name: "bulk grant jobs", sql: v7BulkJobs),  // issue 12
        Migration(version: 8, name: "segments", sql: v8Segments),
        Migration(version: 9, name: "points draws", sql: v9PointsDraws),  // issue 11 (points2 branch)
        Migration(version: 10, name: "period caps and channels", sql: v10CapsChannels),  // issue 12
        Migration(version: 11, name: "campaign shards", sql: v11CampaignShards),  // issue 10
        Migration(version: 12, name: "webhook dead-letter", sql: v12WebhookDeadLetter),  // issue 12
    ]

    /// Applies every migration not yet applied; returns the versions it applied.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection) throws -> [Int] {
        try Migrator.migrate(connection, migrations)
    }
}
