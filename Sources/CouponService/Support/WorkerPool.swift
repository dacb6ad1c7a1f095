import Foundation
import PostgresClient
import RedisClient

/// Threads for blocking work (libpq, blocking hiredis), so event loops and Swift's
/// cooperative pool never block. Each worker owns one PostgreSQL and one Redis connection,
/// opened lazily and replaced after a connection error.
public final class WorkerPool: @unchecked Sendable {  // `queue` is guarded by `condition`; contexts are confined to their threads
    public final class Context: @unchecked Sendable {  // each Context is used only by the one worker thread that owns it
        let conninfo: String
        let redisEndpoint: RedisEndpoint
        private var postgresConnection: PostgresConnection?
        private var redisConnection: BlockingRedisConnection?

        init(conninfo: String, redisEndpoint: RedisEndpoint) {
            self.conninfo = conninfo
            self.redisEndpoint = redisEndpoint
        }

        public func postgres() throws -> PostgresConnection {
            if let connection = postgresConnection, connection.isUsable { return connection }
            postgresConnection = nil
            let connection = try PostgresConnection(conninfo: conninfo)
            postgresConnection = connection
            return connection
        }

        public func redis() throws -> BlockingRedisConnection {
            if let connection = redisConnection { return connection }
            let connection = try BlockingRedisConnection(endpoint: redisEndpoint, timeoutSeconds: 2)
            redisConnection = connection
            return connection
        }

        /// Drops connections after an error so the next job reconnects.
        func reset(after error: Error) {
            if let error = error as? PostgresError, error.isConnectionError { postgresConnection = nil }
            if let error = error as? RedisError, error.isUnavailable { redisConnection = nil }
        }
    }

    private let condition = NSCondition()
    private var queue: [(Context) -> Void] = []
    private var stopped = false
    private let finished = DispatchGroup()

    public init(threads: Int, conninfo: String, redis: RedisEndpoint) {
        for index in 0..<max(threads, 1) {
            finished.enter()
            let context = Context(conninfo: conninfo, redisEndpoint: redis)
            let thread = Thread { [self] in
                while let job = next() { job(context) }
                finished.leave()
            }
            thread.name = "worker-\(index)"
            thread.start()
        }
    }

    /// Runs `body` on a worker; errors it throws reset that worker's connections and are passed on.
    public func submit<T>(_ body: @escaping (Context) throws -> T, completion: @escaping (Result<T, Error>) -> Void) {
        enqueue { context in
            do {
                completion(.success(try body(context)))
            } catch {
                context.reset(after: error)
                completion(.failure(error))
            }
        }
    }

    /// Async form for admin paths and tools.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Context) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(body) { continuation.resume(with: $0) }
        }
    }

    public func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    private func enqueue(_ job: @escaping (Context) -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func next() -> ((Context) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !stopped { condition.wait() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }
}
