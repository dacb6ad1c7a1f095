import Foundation
import Glibc
import TestSupport

/// The real `coupond serve` binary (built by `swift build --build-tests`) running as a child
/// process against its own redis-server and a fresh PostgreSQL database, so tests can measure
/// its memory and CPU from /proc and stop it with a signal.
public final class NodeProcess: @unchecked Sendable {  // `child` is set once in init; stop is called from one test thread
    public let port: Int
    public let redis: RedisServer
    private let child: ChildProcess

    /// `.build/debug/coupond` of this checkout.
    public static var executable: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/coupond").path
    }

    /// Starts the node with `settings` (COUPOND_* names without the prefix, e.g. "LOOPS") and
    /// waits until it accepts connections.
    /// `redis`/`database`: share them with an earlier node (a restart after a kill); the node
    /// then leaves the Redis server running when it goes.
    public static func start(settings: [String: String] = [:], redis shared: RedisServer? = nil, database given: String? = nil) throws -> NodeProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestSupportError("\(executable) is missing: run `swift build --build-tests` first")
        }
        let redis = try shared ?? RedisServer.start()
        let database = try given ?? PostgresServer.shared().createDatabase(prefix: "proc")
        let port = TestEnvironment.freePort()
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COUPOND_") }
        let defaults = [
            "PORT": String(port), "LOOPS": "2", "WORKERS": "2", "REDIS": redis.endpoint.description, "POSTGRES": database,
            "NODE_ID": "proc-\(port)", "LOG_LEVEL": "warning",
        ]
        for (name, value) in defaults.merging(settings, uniquingKeysWith: { $1 }) { environment["COUPOND_" + name] = value }
        let directory = try TestEnvironment.makeTemporaryDirectory(prefix: "coupond-node")
        let child = try ChildProcess(
            executable: executable, arguments: ["serve"], environment: environment, logPath: directory + "/node.log")
        let node = NodeProcess(port: port, redis: redis, child: child, database: database, ownsRedis: shared == nil)
        guard TestEnvironment.waitUntil(seconds: 20, { TestEnvironment.isListening(port: port) || !child.isRunning }),
            child.isRunning
        else {
            let log = (try? String(contentsOfFile: directory + "/node.log", encoding: .utf8)) ?? ""
            throw TestSupportError("coupond serve did not start: \(log.suffix(2000))")
        }
        return node
    }

    /// The node's PostgreSQL conninfo.
    public let database: String
    private let ownsRedis: Bool

    private init(port: Int, redis: RedisServer, child: ChildProcess, database: String, ownsRedis: Bool) {
        self.database = database
        self.ownsRedis = ownsRedis
        self.port = port
        self.redis = redis
        self.child = child
    }

    public var pid: Int32 { child.pid }
    public var isRunning: Bool { child.isRunning }
    /// `exit(n)` → n once the process exited by itself; nil while running or when killed by a signal.
    public var exitStatus: Int32? { child.exitStatus }

    /// Resident memory in bytes (VmRSS of /proc/<pid>/status).
    public var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kib * 1024
    }

    /// CPU time used so far (utime + stime of /proc/<pid>/stat), in seconds.
    public var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // After "pid (comm) ": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Sends `signal`; true if the process exited within `seconds` (else it is killed).
    public func stop(signal: Int32 = SIGTERM, within seconds: Double = 10) -> Bool {
        kill(pid, signal)
        let exited = TestEnvironment.waitUntil(seconds: seconds, interval: 0.01) { !child.isRunning }
        child.terminate(signal: SIGKILL)
        return exited
    }

    deinit {
        child.terminate(signal: SIGKILL)
        if ownsRedis { redis.kill() }
    }
}
