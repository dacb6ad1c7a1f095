import CSystem
import Dispatch
import EventLoop
import Glibc
import Synchronization
import Testing

@testable import HTTPServer

/// A server on a free loopback port with a 2-loop group, torn down by `withServer`.
func withServer(
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    routes: (Router, EventLoopGroup) -> Void,
    _ body: (HTTPServer) throws -> Void
) throws {
    let group = try EventLoopGroup(count: 2, namePrefix: "http-test")
    defer { group.shutdown() }
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let router = Router()
    routes(router, group)
    let server = HTTPServer(group: group, configuration: configuration, router: router)
    try server.start()
    defer { server.stop() }
    try body(server)
}

/// The loop the calling handler runs on.
func currentLoop(_ group: EventLoopGroup) -> EventLoop {
    group.loops.first { $0.inEventLoop }!
}

final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Thread-safe list of observed values.
final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

func milliseconds(since start: UInt64) -> Int { Int((MonotonicClock.now() - start) / 1_000_000) }

func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }

/// A raw blocking TCP client for hostile-client tests: pipelines bytes without reading, can
/// shrink its receive buffer, and closes with or without unread input.
final class RawConnection {
    let fd: Int32

    init(port: Int, receiveBuffer: Int? = nil, timeoutSeconds: Int = 3) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, function: "socket") }
        if let receiveBuffer { _ = csystem_setsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, Int32(receiveBuffer)) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, function: "connect")
        }
    }

    deinit { Glibc.close(fd) }

    /// Writes everything (blocking, within the send timeout); returns the bytes written.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        return offset
    }

    /// Reads until `count` bytes arrived, EOF or the receive timeout.
    func read(atLeast count: Int) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while received.count < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return received
    }

    /// Reads until the peer closes or the receive timeout; true when it closed.
    func readToEnd() -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n > 0 {
                received.append(contentsOf: buffer[0..<n])
                continue
            }
            return (received, n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        }
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }
}
