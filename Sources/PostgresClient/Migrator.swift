/// One versioned schema change; `sql` may hold several statements but no BEGIN/COMMIT of its own.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// Applies migrations in version order, each in its own transaction, recording them in `schema_migrations`.
/// Safe to run from several nodes at once: every step holds a transaction-scoped advisory lock.
public enum Migrator {
    /// The advisory lock key every migrator agrees on ("coupond" in ASCII).
    public static let lockKey: Int64 = 0x636F_7570_6F6E_64

    /// Applies the migrations not yet recorded and returns their versions, in order; `[]` when up to date.
    public static func migrate(_ connection: PostgresConnection, _ migrations: [Migration]) throws -> [Int] {
        let ordered = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.version == next.version {
            throw PostgresError(.invalidMigrations, "duplicate migration version \(next.version)")
        }
        try connection.transaction { conn in
            try conn.execute("SELECT pg_advisory_xact_lock($1)", [lockKey])
            try conn.executeScript("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version int PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        var applied: [Int] = []
        for migration in ordered {
            let didApply = try connection.transaction { conn -> Bool in
                try conn.execute("SELECT pg_advisory_xact_lock($1)", [lockKey])
                let existing = try conn.execute("SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version])
                guard existing.isEmpty else { return false }
                try conn.executeScript(migration.sql)
                try conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name])
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// Versions recorded in `schema_migrations`, ascending; `[]` if the table does not exist yet.
    public static func appliedVersions(_ connection: PostgresConnection) throws -> [Int] {
        let exists = try connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard try exists[0].bool(0) else { return [] }
        return try connection.execute("SELECT version FROM schema_migrations ORDER BY version").rows.map { try $0.int(0) }
    }
}
