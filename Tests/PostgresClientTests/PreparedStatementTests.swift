import PostgresClient
import Testing
import TestSupport

struct ItemsAbove: PreparedStatement {
    static let name = "items_above"
    static let sql = "SELECT id, label FROM items WHERE id > $1 ORDER BY id"
    let minimum: Int
    var binds: [(any PostgresBindable)?] { [minimum] }
    static func decode(_ row: PostgresRow) throws -> Item { Item(id: try row.int("id"), label: try row.optionalString("label")) }
}

struct Item: Equatable {
    let id: Int
    let label: String?
}

struct InsertItem: PreparedStatement {
    static let name = "insert_item"
    static let sql = "INSERT INTO items (id, label) VALUES ($1, $2)"
    let id: Int
    let label: String?
    var binds: [(any PostgresBindable)?] { [id, label] }
    static func decode(_ row: PostgresRow) throws {}
}

@Suite struct PreparedStatementTests {
    @Test func preparesOnceAndReuses() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        for id in 1...4 {
            #expect(try connection.runRows(InsertItem(id: id, label: id == 3 ? nil : "item \(id)")).rowsAffected == 1)
        }
        let prepared = try connection.execute("SELECT name FROM pg_prepared_statements ORDER BY name").rows.map { try $0.string(0) }
        #expect(prepared == ["insert_item"])
        #expect(try connection.run(ItemsAbove(minimum: 2)) == [Item(id: 3, label: nil), Item(id: 4, label: "item 4")])
        #expect(try connection.run(ItemsAbove(minimum: 3)) == [Item(id: 4, label: "item 4")])
        let count = try connection.execute("SELECT count(*) FROM pg_prepared_statements")[0].int(0)
        #expect(count == 2)
    }

    @Test func reprepapresWhenTheServerForgot() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        try connection.runRows(InsertItem(id: 1, label: "one"))
        try connection.execute("DEALLOCATE ALL")
        try connection.runRows(InsertItem(id: 2, label: "two"))
        #expect(try connection.run(ItemsAbove(minimum: 0)) == [Item(id: 1, label: "one"), Item(id: 2, label: "two")])
    }

    @Test func preparedErrorsCarrySQLState() throws {
        let connection = try freshConnection()
        try connection.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        try connection.runRows(InsertItem(id: 1, label: "one"))
        do {
            try connection.runRows(InsertItem(id: 1, label: "again"))
            Issue.record("expected a unique violation")
        } catch let error as PostgresError {
            #expect(error.isUniqueViolation)
        }
    }
}
