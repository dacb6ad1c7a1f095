import PostgresClient
import Testing
import TestSupport

let baseMigrations = [
    Migration(version: 1, name: "items", sql: "CREATE TABLE items (id int PRIMARY KEY); CREATE INDEX items_id ON items (id);"),
    Migration(version: 2, name: "labels", sql: "ALTER TABLE items ADD COLUMN label text"),
]

@Suite struct MigratorTests {
    @Test func appliesOnceAndIsIdempotent() throws {
        let connection = try freshConnection("mig")
        #expect(try Migrator.appliedVersions(connection) == [])
        #expect(try Migrator.migrate(connection, baseMigrations.reversed()) == [1, 2])
        #expect(try Migrator.migrate(connection, baseMigrations) == [])
        let third = Migration(version: 3, name: "more", sql: "ALTER TABLE items ADD COLUMN n int DEFAULT 0")
        #expect(try Migrator.migrate(connection, baseMigrations + [third]) == [3])
        #expect(try Migrator.appliedVersions(connection) == [1, 2, 3])
        try connection.execute("INSERT INTO items (id, label) VALUES (1, 'x')")
        #expect(try connection.execute("SELECT n FROM items")[0].int(0) == 0)
        let names = try connection.execute("SELECT name FROM schema_migrations ORDER BY version").rows.map { try $0.string(0) }
        #expect(names == ["items", "labels", "more"])
    }

    @Test func failedMigrationRollsBackAndStops() throws {
        let connection = try freshConnection("mig")
        let broken = Migration(version: 2, name: "broken", sql: "CREATE TABLE half (id int); SELECT nonsense FROM nowhere;")
        let later = Migration(version: 3, name: "later", sql: "CREATE TABLE later (id int)")
        do {
            _ = try Migrator.migrate(connection, [baseMigrations[0], broken, later])
            Issue.record("expected the broken migration to fail")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42P01")
        }
        #expect(try Migrator.appliedVersions(connection) == [1])
        #expect(try connection.execute("SELECT to_regclass('half') IS NULL, to_regclass('later') IS NULL")[0].values == ["t", "t"])
    }

    @Test func rejectsDuplicateVersions() throws {
        let connection = try freshConnection("mig")
        do {
            _ = try Migrator.migrate(connection, baseMigrations + [Migration(version: 2, name: "again", sql: "SELECT 1")])
            Issue.record("expected invalidMigrations")
        } catch let error as PostgresError {
            #expect(error.code == .invalidMigrations)
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() throws {
        let conninfo = try PostgresServer.shared().createDatabase(prefix: "mig")
        let migrations = baseMigrations + (3...6).map { Migration(version: $0, name: "m\($0)", sql: "CREATE TABLE m\($0) (id int)") }
        let applied = ResultBox(6)
        let errors = onThreads(6) { index in
            let versions = try Migrator.migrate(PostgresConnection(conninfo: conninfo), migrations)
            applied.set(index, versions.map(String.init).joined(separator: ","))
        }
        #expect(errors == Array(repeating: nil, count: 6))
        let all = applied.all.compactMap { $0 }.flatMap { $0.split(separator: ",").map { Int($0)! } }
        #expect(all.sorted() == [1, 2, 3, 4, 5, 6])
        #expect(try Migrator.appliedVersions(PostgresConnection(conninfo: conninfo)) == [1, 2, 3, 4, 5, 6])
    }
}
