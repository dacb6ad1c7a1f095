import Foundation
import Glibc
import RedisClient

/// A throwaway `redis-server` on a free loopback port with its own temporary directory,
/// for integration tests. Killed when the test process exits.
public final class RedisServer: @unchecked Sendable {  // `child` is only touched under `lock`
    public let port: Int
    public let directory: String
    private let arguments: [String]
    /// A Redis Cluster node: ready when it answers `PING` (data commands wait for slots).
    private let clusterNode: Bool
    private let lock = NSLock()
    private var child: ChildProcess?

    public static let executable = "/usr/bin/redis-server"

    public var endpoint: RedisEndpoint { .tcp(host: "127.0.0.1", port: port) }
    /// Set when started with `unixSocket: true`.
    public let unixSocketPath: String?
    public var unixEndpoint: RedisEndpoint? { unixSocketPath.map { .unix(path: $0) } }

    /// Starts a server and waits until it answers `PING`.
    /// With `unixSocket`, it also listens on `<dir>/redis.sock` (see `unixEndpoint`).
    public static func start(appendOnly: Bool = false, appendFsyncAlways: Bool = false, unixSocket: Bool = false) throws -> RedisServer {
        let directory = try TestEnvironment.makeTemporaryDirectory(prefix: "coupond-redis")
        var lastError: Error?
        for _ in 0..<5 {  // a free port can be taken between probing and binding: retry on another
            let server = RedisServer(port: TestEnvironment.freePort(), directory: directory, appendOnly: appendOnly, appendFsyncAlways: appendFsyncAlways, unixSocket: unixSocket)
            do {
                try server.launch()
                return server
            } catch {
                lastError = error
                server.kill()
            }
        }
        throw lastError ?? TestSupportError("redis-server did not start")
    }

    /// Starts one Redis Cluster node (`--cluster-enabled yes`, bus port chosen explicitly,
    /// AOF with `appendfsync always`) in its own directory; `RedisCluster` joins them.
    public static func startClusterNode() throws -> RedisServer {
        let directory = try TestEnvironment.makeTemporaryDirectory(prefix: "coupond-cluster")
        var lastError: Error?
        for _ in 0..<5 {
            let server = RedisServer(
                port: TestEnvironment.freePort(), directory: directory, appendOnly: true, appendFsyncAlways: true, unixSocket: false,
                clusterBusPort: TestEnvironment.freePort())
            do {
                try server.launch()
                return server
            } catch {
                lastError = error
                server.kill()
            }
        }
        throw lastError ?? TestSupportError("redis-server (cluster node) did not start")
    }

    private init(port: Int, directory: String, appendOnly: Bool, appendFsyncAlways: Bool, unixSocket: Bool, clusterBusPort: Int? = nil) {
        self.port = port
        self.directory = directory
        self.clusterNode = clusterBusPort != nil
        self.unixSocketPath = unixSocket ? directory + "/redis.sock" : nil
        self.arguments = (unixSocket ? ["--unixsocket", directory + "/redis.sock"] : []) + [
            "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
            "--appendonly", appendOnly ? "yes" : "no", "--appendfsync", appendFsyncAlways ? "always" : "everysec",
            "--daemonize", "no", "--logfile", "", "--enable-debug-command", "yes",
        ] + (clusterBusPort.map { ["--cluster-enabled", "yes", "--cluster-config-file", directory + "/nodes.conf", "--cluster-port", String($0)] } ?? [])
    }

    /// A blocking client with a 5 s socket timeout.
    public func client() throws -> BlockingRedisConnection {
        try BlockingRedisConnection(endpoint: endpoint, timeoutSeconds: 5)
    }

    /// SIGTERM and wait (a clean shutdown: with AOF on, everything written is on disk).
    public func stop() {
        let running = lock.withLock { () -> ChildProcess? in defer { child = nil }; return child }
        running?.terminate(signal: SIGTERM)
    }

    /// SIGKILL and wait: simulates a crash.
    public func kill() {
        let running = lock.withLock { () -> ChildProcess? in defer { child = nil }; return child }
        running?.terminate(signal: SIGKILL)
    }

    /// Starts again on the same port and directory (so the AOF is replayed) and waits until
    /// data commands work (not `LOADING`). Stops a still-running server first.
    public func restart() throws {
        stop()
        var lastError: Error?
        for _ in 0..<50 {  // the old socket may linger for a moment
            do {
                try launch()
                return
            } catch {
                lastError = error
                kill()
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        throw lastError ?? TestSupportError("redis-server did not restart")
    }

    public var isRunning: Bool { lock.withLock { child?.isRunning ?? false } }

    private func launch() throws {
        let process = try ChildProcess(executable: Self.executable, arguments: arguments, logPath: directory + "/redis.log")
        lock.withLock { child = process }
        let ready = TestEnvironment.waitUntil(seconds: 10, interval: 0.005) {
            guard process.isRunning else { return false }
            guard TestEnvironment.isListening(port: port) else { return false }
            guard let probe = try? BlockingRedisConnection(endpoint: endpoint, timeoutSeconds: 1) else { return false }
            // PING answers during AOF loading; EXISTS does not (LOADING), so data is in.
            guard (try? probe.command(["PING"])) == .simpleString("PONG") else { return false }
            if clusterNode { return true }
            return (try? probe.command(["EXISTS", "coupond:probe"])) != nil
        }
        guard ready else {
            let log = (try? String(contentsOfFile: directory + "/redis.log", encoding: .utf8)) ?? ""
            throw TestSupportError("redis-server on port \(port) not ready: \(log.suffix(500))")
        }
    }

    deinit { kill() }
}
