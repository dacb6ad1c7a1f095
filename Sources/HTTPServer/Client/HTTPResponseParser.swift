import Glibc

/// Incremental HTTP/1.1 response parser, pure (no sockets): `append` bytes, pull complete
/// responses with `next()`; `finish()` at EOF completes a body delimited by the close.
/// Bodies: `Content-Length`, none (1xx/204/304, or `nextResponseIsToHEAD`), or until close.
/// Chunked responses are not supported (the coupond server never sends them).
public struct HTTPResponseParser: Sendable {
    private enum State: Sendable {
        case head
        case body(status: Int, headers: HTTPHeaders, remaining: Int)
        case untilClose(status: Int, headers: HTTPHeaders)
    }

    private var state = State.head
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var scanIndex = 0
    private var bodyBytes: [UInt8] = []
    public var maxHeadBytes = 1 << 20
    /// Set before reading the response to a HEAD request: its head is complete without a body
    /// whatever `Content-Length` says. Cleared when that response's head is parsed.
    public var nextResponseIsToHEAD = false

    public init() {}

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 65536) {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        append(UnsafeRawBufferPointer(bytes).bindMemory(to: UInt8.self))
    }

    /// Bytes received and not yet part of a returned response.
    public var bufferedByteCount: Int { buffer.count - readIndex + bodyBytes.count }

    /// True when no response is partially received.
    public var isIdle: Bool {
        if case .head = state { return buffer.count == readIndex }
        return false
    }

    /// The next complete response, or nil if more bytes are needed.
    public mutating func next() throws(HTTPClientError) -> HTTPClientResponse? {
        while true {
            switch state {
            case .head:
                guard let headEnd = findHeadEnd() else {
                    if buffer.count - readIndex > maxHeadBytes { throw .malformedResponse(.headTooLarge) }
                    return nil
                }
                let (status, headers) = try parseHead(readIndex..<headEnd.start)
                readIndex = headEnd.end
                scanIndex = readIndex
                let lengths = headers.values(for: "content-length")
                if headers.contains(name: "transfer-encoding") { throw .malformedResponse(.transferEncodingUnsupported) }
                if (100..<200).contains(status) { continue }  // interim response: skip
                let toHEAD = nextResponseIsToHEAD
                nextResponseIsToHEAD = false
                if status == 204 || status == 304 || toHEAD {
                    return HTTPClientResponse(status: status, headers: headers, body: [])
                }
                if let first = lengths.first {
                    guard lengths.allSatisfy({ $0 == first }), let length = HTTPSyntax.parseContentLength(first) else {
                        throw .malformedResponse(.contentLength)
                    }
                    state = .body(status: status, headers: headers, remaining: length)
                } else {
                    state = .untilClose(status: status, headers: headers)
                }
            case .body(let status, let headers, let remaining):
                let take = min(remaining, buffer.count - readIndex)
                bodyBytes.append(contentsOf: buffer[readIndex..<readIndex + take])
                readIndex += take
                scanIndex = readIndex
                if take < remaining {
                    state = .body(status: status, headers: headers, remaining: remaining - take)
                    return nil
                }
                state = .head
                let body = bodyBytes
                bodyBytes = []
                return HTTPClientResponse(status: status, headers: headers, body: body)
            case .untilClose:
                bodyBytes.append(contentsOf: buffer[readIndex...])
                readIndex = buffer.count
                scanIndex = readIndex
                return nil
            }
        }
    }

    /// The peer closed: returns a response delimited by the close, nil if nothing was pending,
    /// or throws `.connectionClosed` for a truncated response.
    public mutating func finish() throws(HTTPClientError) -> HTTPClientResponse? {
        if let response = try next() { return response }
        switch state {
        case .untilClose(let status, let headers):
            state = .head
            let body = bodyBytes
            bodyBytes = []
            return HTTPClientResponse(status: status, headers: headers, body: body)
        case .head where buffer.count == readIndex:
            return nil
        default:
            throw .connectionClosed
        }
    }

    /// Range of the head (without the blank line) and the index just after the blank line.
    private mutating func findHeadEnd() -> (start: Int, end: Int)? {
        var index = max(scanIndex, readIndex)
        while index < buffer.count {
            if buffer[index] == 0x0A {
                // Blank line: LF preceded by LF or CRLF.
                if index >= readIndex + 1 && buffer[index - 1] == 0x0A { return (index - 1, index + 1) }
                if index >= readIndex + 2 && buffer[index - 1] == 0x0D && buffer[index - 2] == 0x0A {
                    return (index - 2, index + 1)
                }
            }
            index += 1
        }
        scanIndex = max(readIndex, buffer.count - 2)
        return nil
    }

    private func parseHead(_ range: Range<Int>) throws(HTTPClientError) -> (Int, HTTPHeaders) {
        var lines = buffer[range].split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        guard !lines.isEmpty else { throw .malformedResponse(.statusLine) }
        let statusLine = lines.removeFirst()
        // "HTTP/1.1 200 OK"
        let parts = statusLine.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].starts(with: "HTTP/1.".utf8), parts[1].count == 3,
            let status = Int(String(decoding: parts[1], as: UTF8.self))
        else { throw .malformedResponse(.statusLine) }
        var headers = HTTPHeaders()
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedResponse(.headerLine) }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self)[...].trimmingSpaces
            headers.add(name: name, value: value)
        }
        return (status, headers)
    }
}
