extension PostgresConnection {
    /// Runs `body` between BEGIN and COMMIT; rolls back and rethrows if `body` throws.
    /// Throws `transactionRolledBack` if COMMIT turned into ROLLBACK because a statement failed inside `body`
    /// and `body` swallowed the error.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
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
}
