import Foundation
import Glibc
import PostgresClient
import Synchronization

/// A throwaway PostgreSQL 15 cluster for tests: initdb'd in a temp dir, run as the unprivileged
/// `postgres` OS user (the server refuses root), listening on 127.0.0.1 at a free port with trust
/// auth and superuser `postgres`. Stopped cleanly (then killed, then its directory removed) at exit.
///
/// Use `shared()` for the one cluster per test process, and `createDatabase()` once per test.
/// Tests that stop and restart PostgreSQL take their own cluster from `startNew()`.
public final class PostgresServer: @unchecked Sendable {  // mutable state is only touched under `lock`
    public static let binDirectory = "/usr/lib/postgresql/15/bin"

    public let port: Int
    /// The temp dir holding `data/`, the Unix socket and `postgres.log`.
    public let directory: String
    public var dataDirectory: String { directory + "/data" }
    public var logPath: String { directory + "/postgres.log" }

    private let lock = NSLock()
    private var process: ChildProcess?
    private let databaseCounter = Atomic<Int>(0)

    private static let sharedServer = Mutex<PostgresServer?>(nil)

    /// The cluster shared by every test in this process, started on first use.
    public static func shared() throws -> PostgresServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try PostgresServer.startNew()
            server = started
            return started
        }
    }

    /// A new cluster of its own (initdb + start), for tests that take PostgreSQL down.
    public static func startNew() throws -> PostgresServer {
        let server = try PostgresServer()
        try server.start()
        return server
    }

    private init() throws {
        directory = try TestEnvironment.makeTemporaryDirectory(prefix: "coupond-pg")
        port = TestEnvironment.freePort()
        guard chown(directory, PostgresServer.postgresUID, PostgresServer.postgresGID) == 0 else {
            throw TestSupportError("chown \(directory) to postgres failed: errno \(errno)")
        }
        let status = try PostgresServer.runAsPostgres(
            PostgresServer.binDirectory + "/initdb",
            ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            logPath: directory + "/initdb.log"
        )
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/initdb.log", encoding: .utf8)) ?? ""
            throw TestSupportError("initdb exited with \(status): \(log.suffix(2000))")
        }
        PostgresServer.registerForCleanup(self)
    }

    /// libpq conninfo for `database` on this server.
    public func conninfo(database: String = "postgres") -> String {
        "host=127.0.0.1 port=\(port) dbname=\(database) user=postgres connect_timeout=5"
    }

    /// Creates a fresh, uniquely named database and returns its conninfo.
    public func createDatabase(prefix: String = "t") throws -> String {
        let clean = String(prefix.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(30))
        let number = databaseCounter.add(1, ordering: .relaxed).newValue
        let name = "\(clean)_\(getpid())_\(number)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(conninfo: conninfo())
        var attempt = 0
        while true {
            do {
                try admin.execute("CREATE DATABASE \"\(name)\"")  // identifiers cannot be binds; `name` is generated above
                return conninfo(database: name)
            } catch let error as PostgresError where error.sqlState == "55006" && attempt < 50 {
                attempt += 1  // template1 briefly busy with another CREATE DATABASE
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Starts the server process (again) on the same port and data directory and waits until it accepts connections.
    public func start() throws {
        let child: ChildProcess = try lock.withLock {
            if let process, process.isRunning { return process }
            let child = try ChildProcess(
                executable: "/usr/bin/setpriv",
                // setpriv execs postgres directly: the child pid *is* the postmaster, so killing it kills the server.
                arguments: [
                    "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
                    PostgresServer.binDirectory + "/postgres",
                    "-D", dataDirectory, "-p", String(port), "-k", directory,
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", "fsync=off", "-c", "max_connections=300", "-c", "shared_buffers=128MB",
                    "-c", "full_page_writes=off",
                ],
                logPath: logPath
            )
            process = child
            PostgresServer.installExitHandler()
            return child
        }
        let conninfo = conninfo()
        let ready = TestEnvironment.waitUntil(seconds: 30, interval: 0.05) {
            guard child.isRunning else { return true }
            return (try? PostgresConnection(conninfo: conninfo)) != nil
        }
        guard ready, child.isRunning else {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw TestSupportError("postgres did not start on port \(port): \(log.suffix(2000))")
        }
    }

    /// Fast shutdown (SIGINT: abort transactions, disconnect clients, checkpoint) and wait for exit.
    public func stop() {
        lock.withLock {
            process?.terminate(signal: SIGINT)
            process = nil
        }
    }

    /// Stops and starts the server; clients' connections break and must be replaced.
    public func restart() throws {
        stop()
        try start()
    }

    public var isRunning: Bool { lock.withLock { process?.isRunning == true } }

    // MARK: Running as the postgres user

    static let postgresUID: uid_t = getpwnam("postgres")?.pointee.pw_uid ?? 0
    static let postgresGID: gid_t = getpwnam("postgres")?.pointee.pw_gid ?? 0

    private static func runAsPostgres(_ executable: String, _ arguments: [String], logPath: String) throws -> Int32 {
        guard postgresUID != 0 else { throw TestSupportError("no 'postgres' OS user: install the postgresql package") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", executable] + arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    // MARK: Cleanup at exit

    private static let all = Mutex<[PostgresServer]>([])
    private static let exitHandlerInstalled = Atomic<Bool>(false)

    private static func registerForCleanup(_ server: PostgresServer) {
        all.withLock { $0.append(server) }
    }

    /// Registered after the first ChildProcess exists, so it runs before ChildRegistry's SIGKILL handler.
    private static func installExitHandler() {
        guard exitHandlerInstalled.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        atexit {
            let servers = PostgresServer.all.withLock { $0 }
            for server in servers {
                if let pid = server.lock.withLock({ server.process?.pid }) { kill(pid, SIGINT) }
            }
            for server in servers {
                let pidFile = server.dataDirectory + "/postmaster.pid"
                _ = TestEnvironment.waitUntil(seconds: 5, interval: 0.02) { !FileManager.default.fileExists(atPath: pidFile) }
                if let pid = server.lock.withLock({ server.process?.pid }) { kill(pid, SIGKILL) }
                try? FileManager.default.removeItem(atPath: server.directory)
            }
        }
    }
}
