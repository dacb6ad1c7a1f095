import CSystem
import EventLoop
import Glibc

/// A blocking HTTP/1.1 client over one keep-alive TCP connection to a host name or address,
/// for tests, tools, the load generator and webhook senders (one per thread; not thread-safe). Reconnects lazily when the server has
/// closed the connection, and retries a request once if a reused connection turned out dead
/// before any response byte arrived.
public final class BlockingHTTPClient {
    public let host: String
    public let port: Int
    public let timeoutSeconds: Double
    private var fd: Int32 = -1
    private var parser = HTTPResponseParser()
    private var requestsOnConnection = 0
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    public init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Double = 5) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    deinit {
        close()
        readBuffer.deallocate()
    }

    public var isConnected: Bool { fd >= 0 }

    /// Sends one request and reads its response. Adds `Host` and, with a body, `Content-Length`.
    public func send(
        method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws(HTTPClientError) -> HTTPClientResponse {
        let request = Self.encode(method: method, path: path, host: "\(host):\(port)", headers: headers, body: body)
        let reused = isConnected && requestsOnConnection > 0
        do {
            return try exchange(request, toHEAD: method == "HEAD")
        } catch let error where reused && (error == .connectionClosed || Self.isResetOrPipe(error)) {
            close()
            return try exchange(request, toHEAD: method == "HEAD")
        }
    }

    /// Writes raw bytes (pipelining and malformed-input tests); connects if needed.
    public func sendRaw(_ bytes: [UInt8]) throws(HTTPClientError) {
        try connectIfNeeded()
        try writeAll(bytes)
    }

    /// Reads the next response on the connection (`toHEAD`: it answers a HEAD, so no body).
    public func readResponse(toHEAD: Bool = false) throws(HTTPClientError) -> HTTPClientResponse {
        guard isConnected else { throw .connectionClosed }
        if toHEAD { parser.nextResponseIsToHEAD = true }
        while true {
            if let response = try parser.next() {
                if response.closesConnection { close() }
                return response
            }
            let received: IOResult<Int>
            do {
                received = try Posix.recv(fd, into: readBuffer)
            } catch {
                close()
                throw .io(.init(errno: error.errnoCode, function: "recv"))
            }
            guard case .processed(let count) = received else { throw .timeout }
            if count > 0 {
                parser.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
                continue
            }
            let last = try parser.finish()
            close()
            if let last { return last }
            throw .connectionClosed
        }
    }

    /// Waits for the server to close the connection; true if it did within the timeout
    /// (bytes received meanwhile are discarded).
    public func waitForClose() -> Bool {
        guard isConnected else { return true }
        while true {
            switch try? Posix.recv(fd, into: readBuffer) {
            case .processed(let count) where count > 0:
                continue
            case .wouldBlock:
                return false  // still open when the timeout ran out
            default:
                close()  // EOF or an error (reset)
                return true
            }
        }
    }

    public func close() {
        if fd >= 0 { Posix.close(fd) }
        fd = -1
        parser = HTTPResponseParser()
        requestsOnConnection = 0
    }

    // MARK: Internals

    private func exchange(_ request: [UInt8], toHEAD: Bool) throws(HTTPClientError) -> HTTPClientResponse {
        try connectIfNeeded()
        try writeAll(request)
        parser.nextResponseIsToHEAD = toHEAD
        requestsOnConnection += 1
        return try readResponse()
    }

    private static func isResetOrPipe(_ error: HTTPClientError) -> Bool {
        if case .io(let code) = error { return code.errno == ECONNRESET || code.errno == EPIPE }
        return false
    }

    /// Connects to `host` — an IPv4 or IPv6 literal or a name (`getaddrinfo`: each address in
    /// turn until one accepts; a name that does not resolve is `.connectFailed(EHOSTUNREACH)`).
    /// The socket timeouts bound `connect` too (Linux applies `SO_SNDTIMEO` to it).
    private func connectIfNeeded() throws(HTTPClientError) {
        if fd >= 0 { return }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let list else { throw .connectFailed(errno: EHOSTUNREACH) }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var candidate: UnsafeMutablePointer<addrinfo>? = list
        while let address = candidate {
            candidate = address.pointee.ai_next
            let socketFD: Int32
            do {
                socketFD = try Posix.streamSocket(family: address.pointee.ai_family)
            } catch {
                lastError = error.errnoCode
                continue
            }
            Posix.configureClientSocket(socketFD, timeoutSeconds: timeoutSeconds)
            do {
                try Posix.connect(socketFD, address.pointee.ai_addr, address.pointee.ai_addrlen)
                fd = socketFD
                parser = HTTPResponseParser()
                requestsOnConnection = 0
                return
            } catch {
                lastError = error.errnoCode
                Posix.close(socketFD)
            }
        }
        throw .connectFailed(errno: lastError)
    }

    private func writeAll(_ bytes: [UInt8]) throws(HTTPClientError) {
        var offset = 0
        while offset < bytes.count {
            let sent: Result<IOResult<Int>, IOError> = bytes.withUnsafeBytes { raw in
                do throws(IOError) {
                    return .success(try Posix.send(fd, UnsafeRawBufferPointer(rebasing: raw[offset...])))
                } catch {
                    return .failure(error)
                }
            }
            switch sent {
            case .success(.processed(let written)):
                offset += written
            case .success(.wouldBlock):
                close()
                throw .timeout
            case .failure(let error):
                close()
                throw .io(.init(errno: error.errnoCode, function: "send"))
            }
        }
    }

    static func encode(method: String, path: String, host: String, headers: [(String, String)], body: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + (body?.count ?? 0))
        out.append(contentsOf: "\(method) \(path) HTTP/1.1\r\n".utf8)
        var hasHost = false
        var hasLength = false
        for (name, value) in headers {
            if HTTPHeaders.equalsIgnoringCase(name, "host") { hasHost = true }
            if HTTPHeaders.equalsIgnoringCase(name, "content-length") { hasLength = true }
            out.append(contentsOf: "\(name): \(value)\r\n".utf8)
        }
        if !hasHost { out.append(contentsOf: "Host: \(host)\r\n".utf8) }
        if let body, !hasLength { out.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if let body { out.append(contentsOf: body) }
        return out
    }
}
