internal import CHiredis
import EventLoop
import Foundation
import Glibc

/// A synchronous hiredis connection for tools, tests and the flusher thread — never for an
/// event loop. It connects lazily, and after any I/O error it throws and replaces its context
/// on the next call (a hiredis context is dead after its first error).
/// Calls are serialized by a lock, so one instance may be handed between threads, but each
/// call blocks its thread for up to the socket timeout.
public final class BlockingRedisConnection: @unchecked Sendable {  // the hiredis context is only touched under `lock`
    public let endpoint: RedisEndpoint
    private let lock = NSLock()
    private var context: UnsafeMutablePointer<redisContext>?
    private var timeoutSeconds: Double
    /// Set when opened on Redis Cluster: every call is routed by it (see `BlockingClusterRouter`).
    private let cluster: BlockingClusterRouter?

    /// Connects now; throws `RedisError.connectFailed` when the server cannot be reached.
    public init(endpoint: RedisEndpoint, timeoutSeconds: Double = 5) throws(RedisError) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.cluster = nil
        try locked { () throws(RedisError) in _ = try liveContext() }
    }

    /// Opens Redis Cluster through `seeds` (loads the slot map now; throws when no seed answers).
    /// Each command goes to the master owning its first key's slot; `MOVED`, `ASK`, `TRYAGAIN`
    /// and `CLUSTERDOWN` are followed as `ClusterCommandRouting` decides. `SCRIPT` commands go to
    /// every master. A command whose keys span slots fails with `CROSSSLOT`, as on any client.
    public init(cluster seeds: [RedisEndpoint], timeoutSeconds: Double = 5, policy: ClusterRetryPolicy = ClusterRetryPolicy())
        throws(RedisError)
    {
        self.endpoint = seeds.first ?? .tcp(host: "127.0.0.1", port: 6379)
        self.timeoutSeconds = timeoutSeconds
        self.cluster = try BlockingClusterRouter(seeds: seeds, timeoutSeconds: timeoutSeconds, policy: policy)
    }

    /// Opens `deployment`: one server, or a cluster through its seeds.
    public static func open(_ deployment: RedisDeployment, timeoutSeconds: Double = 5) throws(RedisError) -> BlockingRedisConnection {
        switch deployment {
        case .standalone(let endpoint): return try BlockingRedisConnection(endpoint: endpoint, timeoutSeconds: timeoutSeconds)
        case .cluster(let seeds): return try BlockingRedisConnection(cluster: seeds, timeoutSeconds: timeoutSeconds)
        }
    }

    /// A background task's connection: `existing` (dropped first if the server closed it while
    /// idle, so the next call reconnects instead of failing once), or `deployment` opened anew.
    public static func reusing(_ existing: BlockingRedisConnection?, or deployment: RedisDeployment) throws(RedisError) -> BlockingRedisConnection {
        if let existing {
            existing.dropIfClosedByPeer()
            return existing
        }
        return try open(deployment, timeoutSeconds: 5)
    }

    /// The cluster's masters when opened on a cluster; `[endpoint]` otherwise.
    public var masters: [RedisEndpoint] { cluster?.masters ?? [endpoint] }

    deinit {
        if let context { redisFree(context) }
    }

    /// Changes the socket read/write timeout (e.g. longer than an `XREADGROUP ... BLOCK` wait).
    public func setTimeout(seconds: Double) {
        if let cluster { return cluster.setTimeout(seconds: seconds) }
        lock.withLock {
            timeoutSeconds = seconds
            if let context { redisSetTimeout(context, Self.timeval(seconds)) }
        }
    }

    /// True while a context is open (it may still turn out dead on the next call).
    public var isConnected: Bool { cluster?.isConnected ?? lock.withLock { context != nil } }

    /// Checks the idle connection without a round trip and drops it when the server has
    /// closed it (e.g. Redis restarted): the next call then reconnects instead of failing.
    /// No reply is outstanding between calls, so anything readable means EOF, a reset, or
    /// bytes nobody asked for; each makes the context unusable. One `poll`, zero timeout.
    /// Returns false when it dropped the connection.
    @discardableResult
    public func dropIfClosedByPeer() -> Bool {
        if let cluster { return cluster.dropIfClosedByPeer() }
        return lock.withLock {
            guard let context else { return true }
            guard Posix.isReadableNow(context.pointee.fd) else { return true }
            dropContext()
            return false
        }
    }

    /// Drops the connection; the next call reconnects.
    public func close() {
        if let cluster { return cluster.close() }
        lock.withLock { dropContext() }
    }

    /// Runs one command. An error reply throws `RedisError.server`.
    @discardableResult
    public func command(_ args: [RedisArgument]) throws(RedisError) -> RESPValue {
        if let cluster { return try cluster.command(args) }
        return try locked { () throws(RedisError) -> RESPValue in
            let context = try liveContext()
            let raw = withArgv(args) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
            guard let raw else { throw failure(of: context) }
            defer { freeReplyObject(raw) }
            return try RESPValue(copying: raw.assumingMemoryBound(to: redisReply.self)).asResult.get()
        }
    }

    /// Sends every command in one write, then reads every reply. Error replies are
    /// `.failure(.server)` in their slot; an I/O error throws (and the connection is replaced).
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        if let cluster { return try cluster.pipeline(commands) }
        return try locked { () throws(RedisError) -> [Result<RESPValue, RedisError>] in
            let context = try liveContext()
            try append(commands, to: context)
            return try readReplies(commands.count, from: context)
        }
    }

    /// Queues `commands` in hiredis' output buffer (written by the next read or flush).
    private func append(_ commands: [[RedisArgument]], to context: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        for args in commands {
            let status = withArgv(args) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard status == REDIS_OK else { throw failure(of: context) }
        }
    }

    /// The next `count` replies, in order (hiredis writes what is still queued first).
    private func readReplies(_ count: Int, from context: UnsafeMutablePointer<redisContext>) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        var results: [Result<RESPValue, RedisError>] = []
        results.reserveCapacity(count)
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure(of: context) }
            results.append(RESPValue(copying: raw.assumingMemoryBound(to: redisReply.self)).asResult)
            freeReplyObject(raw)
        }
        return results
    }

    /// `commands` pipelined inside one `MULTI … EXEC` (`OneWrite`) on a standalone server: many
    /// small writes that need no atomicity reach the AOF in one write, one fsync. On a cluster
    /// the keys may span slots, which one transaction cannot: there it is `pipeline`.
    public func pipelineAsOneWrite(_ commands: [[RedisArgument]]) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        if cluster != nil || commands.count < 2 { return try pipeline(commands) }
        return OneWrite.replies(try pipeline(OneWrite.wrap(commands)), of: commands.count)
    }

    /// Streams groups of commands with up to `window` groups in flight: `next` is asked for a
    /// group only when it can be sent, and `replies` gets each group's replies, in order, as soon
    /// as they are read — so the server has the following groups queued while the caller builds
    /// commands and works on replies (a `pipeline` per group leaves it idle meanwhile). `replies`
    /// may give `next` more to send: `next` is asked again after every group; the stream ends
    /// when `next` returns nil with nothing in flight. An I/O error, or an error thrown by either
    /// closure, ends it and drops the connection (replies may be outstanding). On a cluster,
    /// groups whose commands all map to one master stream on its connection; see
    /// `BlockingClusterRouter.stream`.
    public func stream(
        window: Int, next: () throws -> [[RedisArgument]]?, replies: ([Result<RESPValue, RedisError>]) throws -> Void
    ) throws {
        precondition(window >= 1)
        if let cluster { return try cluster.stream(window: window, next: next, replies: replies) }
        lock.lock()
        defer { lock.unlock() }
        var inFlight: [Int] = []  // commands per group sent, oldest first
        do {
            let context = try liveContext()
            while true {
                while inFlight.count < window, let group = try next() {
                    try append(group, to: context)
                    var written: Int32 = 0
                    repeat {
                        guard redisBufferWrite(context, &written) == REDIS_OK else { throw failure(of: context) }
                    } while written == 0
                    inFlight.append(group.count)
                }
                guard !inFlight.isEmpty else { return }
                try replies(try readReplies(inFlight.removeFirst(), from: context))
            }
        } catch {
            dropContext()
            throw error
        }
    }

    /// `commands` pipelined, then `WAIT` right behind them on the same connection (on a
    /// cluster: on each master's connection, behind that master's commands). Each reply is
    /// judged by the `WAIT` that covers it (`ReplicaWait.judge`): `.unconfirmed` when fewer
    /// than `wait.replicas` replicas had it in time. A command a cluster redirected ran on
    /// another connection, which no `WAIT` covered: its reply is `.unconfirmed` (0 replicas).
    public func pipeline(_ commands: [[RedisArgument]], confirmedBy wait: ReplicaWait) throws(RedisError)
        -> [Result<RESPValue, RedisError>]
    {
        if let cluster { return try cluster.pipeline(commands, confirmedBy: wait) }
        guard !commands.isEmpty else { return [] }
        var replies = try pipeline(commands + [wait.command])
        let waitReply = replies.removeLast()
        return replies.map { wait.judge($0, waitReply: waitReply) }
    }

    /// `EVALSHA`; on `NOSCRIPT` loads the script and retries once.
    @discardableResult
    public func evalScript(_ script: RedisScript, keys: [RedisArgument] = [], args: [RedisArgument] = []) throws(RedisError) -> RESPValue {
        let evalsha = script.evalshaCommand(keys: keys, args: args)
        do {
            return try command(evalsha)
        } catch .server(let error) where error.prefix == .noscript {
            try command(script.loadCommand)
            return try command(evalsha)
        }
    }

    private func locked<R>(_ body: () throws(RedisError) -> R) throws(RedisError) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Context lifetime (call under `lock`)

    private func liveContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let tv = Self.timeval(timeoutSeconds)
        let created: UnsafeMutablePointer<redisContext>?
        switch endpoint {
        case .tcp(let host, let port): created = redisConnectWithTimeout(host, Int32(port), tv)
        case .unix(let path): created = redisConnectUnixWithTimeout(path, tv)
        }
        guard let created else { throw .connectFailed("\(endpoint): out of memory") }
        if created.pointee.err != 0 {
            let text = Self.errorText(created)
            redisFree(created)
            throw .connectFailed("\(endpoint): \(text)")
        }
        redisSetTimeout(created, tv)
        context = created
        return created
    }

    /// Maps the context's error to a `RedisError` and drops the dead context.
    private func failure(of context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let savedErrno = errno
        let code = context.pointee.err
        let text = Self.errorText(context)
        dropContext()
        switch code {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK: return .timeout
        case REDIS_ERR_IO, REDIS_ERR_EOF: return .connectionLost
        case REDIS_ERR_PROTOCOL: return .protocolError(text)
        default: return .protocolError("hiredis error \(code): \(text)")
        }
    }

    private func dropContext() {
        if let context { redisFree(context) }
        context = nil
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    static func timeval(_ seconds: Double) -> Glibc.timeval {
        let whole = max(seconds, 0).rounded(.down)
        return Glibc.timeval(tv_sec: Int(whole), tv_usec: Int((max(seconds, 0) - whole) * 1_000_000))
    }
}
