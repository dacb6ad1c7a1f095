extension PostgresConnection {
    /// Runs `body` between BEGIN and COMMIT; rolls back and rethrows if `body` throws.
    /// Throws `transactionRolledBack` if COMMIT turned into ROLLBACK because a statement failed inside `body`
    /// and `body` swallowed the error.
    ///
    /// Called inside a transaction, it nests as a savepoint: `body`'s work becomes part of the
    /// outer transaction (committed or rolled back with it), and a throw undoes only `body`'s
    /// work before it propagates. (A second BEGIN would be ignored and the inner COMMIT would
    /// commit the outer work early, so the outer rollback would undo nothing.)
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        if isInTransaction { return try savepoint(body) }
        try execute("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isUsable { _ = try? execute("ROLLBACK") }
            throw error
        }
        let commit = try execute("COMMIT")
        if commit.commandTag == "ROLLBACK" {
            throw PostgresError(.transactionRolledBack, sqlState: "25P02", "transaction aborted by an earlier error; COMMIT rolled back")
        }
        return value
    }

    /// One name serves every depth: ROLLBACK TO and RELEASE act on the newest savepoint of that name.
    private func savepoint<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try execute("SAVEPOINT nested_transaction")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isUsable {
                _ = try? execute("ROLLBACK TO SAVEPOINT nested_transaction")
                _ = try? execute("RELEASE SAVEPOINT nested_transaction")
            }
            throw error
        }
        try execute("RELEASE SAVEPOINT nested_transaction")
        return value
    }
}
