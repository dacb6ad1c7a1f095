import CSystem
import Foundation
import Glibc
import Synchronization

/// Helpers the test support code shares: free ports, temporary directories, child processes
/// that die with the test process.
public enum TestEnvironment {
    /// A loopback TCP port nobody listens on right now.
    public static func freePort() -> Int {
        let fd = csystem_listen_tcp4("127.0.0.1", 0, 1, 0)
        precondition(fd >= 0, "cannot bind an ephemeral port")
        defer { close(fd) }
        return Int(csystem_local_port(fd))
    }

    /// A new directory under the system temp dir, world-accessible so an unprivileged server can use it.
    public static func makeTemporaryDirectory(prefix: String) throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let path: String = try template.withUnsafeMutableBufferPointer { buffer in
            guard let result = mkdtemp(buffer.baseAddress!) else {
                throw TestSupportError("mkdtemp failed: errno \(errno)")
            }
            return String(cString: result)
        }
        chmod(path, 0o777)
        return path
    }

    /// Waits until `probe` returns true or the deadline passes.
    public static func waitUntil(seconds: Double, interval: Double = 0.02, _ probe: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if probe() { return true }
            Thread.sleep(forTimeInterval: interval)
        }
        return probe()
    }

    /// True when something accepts TCP connections on 127.0.0.1:port.
    public static func isListening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child process started by a test; killed when the test process exits.
public final class ChildProcess: @unchecked Sendable {  // the Process is only touched under `lock`
    private let process: Process
    private let lock = NSLock()
    public let executable: String

    public init(executable: String, arguments: [String], environment: [String: String]? = nil, logPath: String? = nil) throws {
        self.executable = executable
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let logPath {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let handle = FileHandle(forWritingAtPath: logPath)
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        ChildRegistry.shared.add(process.processIdentifier)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { lock.withLock { process.isRunning } }
    /// The exit status once it exited by itself (`exit(n)` → n); nil while running or when killed by a signal.
    public var exitStatus: Int32? {
        lock.withLock { process.isRunning || process.terminationReason != .exit ? nil : process.terminationStatus }
    }

    /// Sends `signal` and waits for the process to exit.
    public func terminate(signal: Int32 = SIGTERM) {
        lock.withLock {
            guard process.isRunning else { return }
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            ChildRegistry.shared.remove(process.processIdentifier)
        }
    }

    deinit { terminate(signal: SIGKILL) }
}

/// Every child still alive at exit gets SIGKILL, so a crashed test leaves no servers behind.
final class ChildRegistry: Sendable {
    static let shared = ChildRegistry()
    private let pids = Mutex<Set<Int32>>([])

    private init() {
        atexit {
            for pid in ChildRegistry.shared.pids.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }

    func add(_ pid: Int32) { pids.withLock { _ = $0.insert(pid) } }
    func remove(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }
}
