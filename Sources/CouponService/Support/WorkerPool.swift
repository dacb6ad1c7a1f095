import Foundation
import PostgresClient
import RedisClient

/// Threads for blocking work (libpq, blocking hiredis), so event loops and Swift's
/// cooperative pool never block. Each worker owns one PostgreSQL and one Redis connection,
/// opened lazily and replaced after a connection error.
public final class WorkerPool: @unchecked Sendable {  // `queue` is guarded by `condition`; contexts are confined to their threads
    public final class Context: @unchecked Sendable {  // each Context is used only by the one worker thread that owns it
        let conninfo: String
        let redisDeployment: RedisDeployment
        private var postgresConnection: PostgresConnection?
        private var redisConnection: BlockingRedisConnection?

        init(conninfo: String, redisDeployment: RedisDeployment) {
            self.conninfo = conninfo
            self.redisDeployment = redisDeployment
        }

        /// This worker's PostgreSQL session. A cached one is checked first (no round trip: see
        /// `PostgresConnection.isAliveWhenIdle`), so after a PostgreSQL restart the first job
        /// reconnects instead of failing.
        public func postgres() throws -> PostgresConnection {
            if let connection = postgresConnection, connection.isAliveWhenIdle() { return connection }
            postgresConnection = nil
            let connection = try PostgresConnection(conninfo: Conninfo.withTimeouts(conninfo))
            // A request never waits on PostgreSQL forever: a stuck query is cancelled (queryCanceled → 503).
            try connection.setStatementTimeout(seconds: WorkerPool.statementTimeoutSeconds)
            postgresConnection = connection
            return connection
        }

        /// This worker's Redis connection; a cached one the server has closed (Redis restarted)
        /// is dropped first, so the call reconnects instead of failing.
        public func redis() throws -> BlockingRedisConnection {
            if let connection = redisConnection {
                connection.dropIfClosedByPeer()
                return connection
            }
            let connection = try BlockingRedisConnection.open(redisDeployment, timeoutSeconds: 2)
            redisConnection = connection
            return connection
        }

        /// Runs an idempotent Redis read; if the connection turns out dead (the server went away
        /// between the check and the command), runs it once more on a fresh connection.
        public func redisRead<T>(_ body: (BlockingRedisConnection) throws -> T) throws -> T {
            do {
                return try body(redis())
            } catch let error as RedisError where error == .connectionLost {
                redisConnection = nil
                return try body(redis())
            }
        }

        /// Drops connections after an error so the next job reconnects.
        func reset(after error: Error) {
            if let error = error as? PostgresError, error.isConnectionError { postgresConnection = nil }
            if let error = error as? RedisError, error.isConnectionLevel { redisConnection = nil }
        }
    }

    private let condition = NSCondition()
    private var queue: [(Context) -> Void] = []
    private var head = 0
    private var stopped = false
    /// Jobs waiting at most; past this a request is answered 503 at once instead of queueing.
    private let maxQueued: Int
    private let finished = DispatchGroup()

    public convenience init(threads: Int, conninfo: String, redis: RedisEndpoint, maxQueued: Int = 10_000) {
        self.init(threads: threads, conninfo: conninfo, deployment: .standalone(redis), maxQueued: maxQueued)
    }

    /// On Redis Cluster each worker's Redis connection routes every command to its slot's master.
    public init(threads: Int, conninfo: String, deployment: RedisDeployment, maxQueued: Int = 10_000) {
        self.maxQueued = maxQueued
        for index in 0..<max(threads, 1) {
            finished.enter()
            let context = Context(conninfo: conninfo, redisDeployment: deployment)
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
        let accepted = enqueue { context in
            do {
                completion(.success(try body(context)))
            } catch {
                context.reset(after: error)
                completion(.failure(error))
            }
        }
        if !accepted { completion(.failure(WorkerPoolOverloaded())) }
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

    private func enqueue(_ job: @escaping (Context) -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard queue.count - head < maxQueued else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    private func next() -> ((Context) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while queue.count == head && !stopped { condition.wait() }
        guard queue.count > head else { return nil }
        let job = queue[head]
        head += 1
        if head >= 1_024 && head * 2 >= queue.count {  // drop the consumed prefix now and then
            queue.removeFirst(head)
            head = 0
        }
        return job
    }

    static let statementTimeoutSeconds = 30
}

/// The worker queue is full: PostgreSQL is slower than requests arrive. Answered 503.
public struct WorkerPoolOverloaded: Error, CustomStringConvertible {
    public var description: String { "worker queue full" }
}
