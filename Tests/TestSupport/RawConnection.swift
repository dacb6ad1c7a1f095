import CSystem
import Glibc

/// A raw blocking TCP client for hostile-client tests: pipelines bytes without reading, can
/// shrink its receive buffer, and closes with or without unread input.
public final class RawConnection: @unchecked Sendable {  // used by one thread at a time
    public let fd: Int32

    public init(port: Int, receiveBuffer: Int? = nil, timeoutSeconds: Int = 3) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket failed: errno \(errno)") }
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
            throw TestSupportError("connect to port \(port) failed: errno \(code)")
        }
    }

    deinit { close() }

    private var closed = false

    /// Closes the socket (the kernel resets the connection if responses are unread).
    public func close() {
        if !closed { Glibc.close(fd) }
        closed = true
    }

    /// Writes everything (blocking, within the send timeout); returns the bytes written.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Int {
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
    public func read(atLeast count: Int) -> [UInt8] {
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
    public func readToEnd() -> (bytes: [UInt8], closed: Bool) {
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

    public func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }
}
