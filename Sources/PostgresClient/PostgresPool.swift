import Dispatch
import Synchronization

/// A small blocking pool of `PostgresConnection`s for worker threads.
///
/// Connections open lazily up to `size`. A caller waits up to `acquireTimeoutSeconds` for one
/// (then `poolTimeout`). A connection that is broken, or whose body threw a connection error,
/// is dropped and replaced on a later checkout, so a PostgreSQL restart heals by itself.
/// The lock is never held during I/O: connects and queries happen outside it.
public final class PostgresPool: Sendable {
    public let conninfo: String
    public let size: Int
    public let acquireTimeoutSeconds: Double

    /// One permit per connection slot (idle, checked out, or not yet opened).
    private let permits: DispatchSemaphore
    private let idle = Mutex<[PostgresConnection]>([])

    public init(conninfo: String, size: Int, acquireTimeoutSeconds: Double = 5) {
        precondition(size > 0, "pool size must be positive")
        self.conninfo = conninfo
        self.size = size
        self.acquireTimeoutSeconds = acquireTimeoutSeconds
        permits = DispatchSemaphore(value: size)
    }

    /// Runs `body` with a connection of its own; blocks the calling thread while waiting for one.
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard permits.wait(timeout: .now() + acquireTimeoutSeconds) == .success else {
            throw PostgresError(.poolTimeout, "no PostgreSQL connection free within \(acquireTimeoutSeconds)s (pool size \(size))")
        }
        let connection: PostgresConnection
        do {
            connection = try checkOut()
        } catch {
            permits.signal()
            throw error
        }
        do {
            let value = try body(connection)
            checkIn(connection, keep: connection.isUsable && !connection.isInTransaction)
            return value
        } catch let error as PostgresError {
            checkIn(connection, keep: !error.isConnectionError && connection.isUsable && !connection.isInTransaction)
            throw error
        } catch {
            checkIn(connection, keep: connection.isUsable && !connection.isInTransaction)
            throw error
        }
    }

    /// True when PostgreSQL answers `SELECT 1` through the pool (for readiness probes).
    public func check() -> Bool {
        do {
            return try withConnection { try $0.execute("SELECT 1").first?.int(0) == 1 }
        } catch {
            return false
        }
    }

    /// Connections currently idle in the pool (for tests and metrics).
    public var idleCount: Int { idle.withLock { $0.count } }

    /// Closes idle connections; checked-out ones stay open and return to the pool as usual.
    public func closeIdle() {
        let closing = idle.withLock { connections in
            let all = connections
            connections.removeAll()
            return all
        }
        _ = closing  // deinit → PQfinish, outside the lock
    }

    // Caller holds a permit.
    private func checkOut() throws -> PostgresConnection {
        while let candidate = idle.withLock({ $0.popLast() }) {
            // A server restart closes idle sessions; notice without a round trip and drop them.
            if candidate.probeIdle() { return candidate }
        }
        return try PostgresConnection(conninfo: conninfo)
    }

    private func checkIn(_ connection: PostgresConnection, keep: Bool) {
        if keep {
            idle.withLock { $0.append(connection) }
        }
        // Not kept: the last reference goes away here and deinit closes it, outside the lock.
        permits.signal()
    }
}
