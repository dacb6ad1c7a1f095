import Glibc

/// Incremental HTTP/1.x request parser: a pure state machine, no sockets (hiredis' reader
/// style). Feed bytes with `append`, pull actions with `next()` until `.needMoreData`.
///
/// - HTTP/1.1 and HTTP/1.0; well-formed `HTTP/2+` gets 505, anything else malformed 400.
/// - Bodies are framed by `Content-Length` only. Any `Transfer-Encoding` (chunked included)
///   is refused with 400 and close: this service's clients always know their body length,
///   and not implementing chunked removes a whole class of smuggling bugs.
/// - After `.headComplete` the parser pauses until `continueWithBodyLimit(_:)`, so the caller
///   can refuse an oversized body (413) before reading a byte of it.
/// - Only origin-form targets (`/path?query`) and `*` are accepted.
/// - Several pipelined requests may sit in the buffer; input may be split anywhere.
public struct HTTPRequestParser: Sendable {
    enum State: Sendable, Equatable {
        case requestLine
        case headers
        case awaitingBodyLimit(contentLength: Int)
        case body(remaining: Int)
        case failed
    }

    public let limits: HTTPParserLimits
    private(set) var state: State = .requestLine
    private var buffer: [UInt8] = []
    /// Start of the bytes not yet consumed.
    private var readIndex = 0
    /// Where the search for the next line feed resumes (avoids rescanning a partial line).
    private var scanIndex = 0
    private var headerBytes = 0

    // The head being built.
    private var method = HTTPMethod.GET
    private var target = ""
    private var version = HTTPVersion.http1_1
    private var headers = HTTPHeaders()

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    // MARK: Input

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Unconsumed bytes held (a partial request, or pipelined requests not yet pulled).
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// True between a request's first byte and the end of its head.
    public var isReadingHead: Bool {
        switch state {
        case .requestLine: return bufferedByteCount > 0
        case .headers: return true
        default: return false
        }
    }

    /// True while a body is expected (including before `continueWithBodyLimit`).
    public var isReadingBody: Bool {
        switch state {
        case .awaitingBodyLimit, .body: return true
        default: return false
        }
    }

    private mutating func compact() {
        if readIndex == 0 { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
        } else if readIndex >= 4096 || readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
        } else {
            return
        }
        scanIndex -= readIndex
        readIndex = 0
    }

    // MARK: Output

    public mutating func next() -> HTTPParserAction {
        switch state {
        case .requestLine, .headers:
            return parseHead()
        case .awaitingBodyLimit:
            preconditionFailure("HTTPRequestParser: call continueWithBodyLimit(_:) after .headComplete")
        case .body(let remaining):
            if remaining == 0 {
                state = .requestLine
                return .requestComplete
            }
            let available = buffer.count - readIndex
            if available == 0 { return .needMoreData }
            let take = min(available, remaining)
            let slice = buffer[readIndex..<readIndex + take]
            readIndex += take
            scanIndex = readIndex
            state = .body(remaining: remaining - take)
            return .body(slice)
        case .failed:
            return .needMoreData
        }
    }

    /// Resumes after `.headComplete`. Returns `.error(413)` (and fails the parser) when the
    /// declared body exceeds `limit`; nil when `next()` may continue.
    public mutating func continueWithBodyLimit(_ limit: Int) -> HTTPParserAction? {
        guard case .awaitingBodyLimit(let contentLength) = state else {
            preconditionFailure("HTTPRequestParser: continueWithBodyLimit(_:) without a pending head")
        }
        if contentLength > limit { return fail(.bodyTooLarge) }
        state = .body(remaining: contentLength)
        return nil
    }

    private mutating func fail(_ code: HTTPParserError.Code) -> HTTPParserAction {
        state = .failed
        return .error(HTTPParserError(code))
    }

    // MARK: Head

    private mutating func parseHead() -> HTTPParserAction {
        while true {
            guard let lineFeed = findLineFeed() else {
                scanIndex = buffer.count
                let pending = buffer.count - readIndex
                if state == .requestLine {
                    // No LF within max+2 bytes means the line (minus CR) exceeds the limit.
                    if pending >= limits.maxRequestLineBytes + 2 { return fail(.requestLineTooLong) }
                } else if headerBytes + pending > limits.maxHeaderBytes {
                    return fail(.headerFieldsTooLarge)
                }
                return .needMoreData
            }
            let lineStart = readIndex
            var lineEnd = lineFeed
            if lineEnd > lineStart && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            readIndex = lineFeed + 1
            scanIndex = readIndex

            if state == .requestLine {
                if lineEnd == lineStart { continue }  // RFC 9112 §2.2: ignore empty lines before a request
                if lineEnd - lineStart > limits.maxRequestLineBytes { return fail(.requestLineTooLong) }
                if let error = parseRequestLine(lineStart..<lineEnd) { return fail(error) }
                headerBytes = 0
                headers = HTTPHeaders()
                state = .headers
                continue
            }

            headerBytes += lineFeed + 1 - lineStart
            if lineEnd == lineStart { return finishHead() }
            if headerBytes > limits.maxHeaderBytes { return fail(.headerFieldsTooLarge) }
            if headers.count >= limits.maxHeaderCount { return fail(.tooManyHeaderFields) }
            if let error = parseHeaderLine(lineStart..<lineEnd) { return fail(error) }
        }
    }

    private func findLineFeed() -> Int? {
        let start = scanIndex
        let count = buffer.count - start
        if count <= 0 { return nil }
        return buffer.withUnsafeBufferPointer { all -> Int? in
            guard let found = memchr(all.baseAddress! + start, 0x0A, count) else { return nil }
            return start + UnsafeRawPointer(all.baseAddress! + start).distance(to: UnsafeRawPointer(found))
        }
    }

    private mutating func parseRequestLine(_ range: Range<Int>) -> HTTPParserError.Code? {
        buffer.withUnsafeBufferPointer { all -> HTTPParserError.Code? in
            let line = UnsafeBufferPointer(rebasing: all[range])
            guard let firstSpace = line.firstIndex(of: 0x20) else { return .malformedRequestLine }
            let afterMethod = firstSpace + 1
            guard let secondSpace = line[afterMethod...].firstIndex(of: 0x20) else { return .malformedRequestLine }
            let methodBytes = UnsafeBufferPointer(rebasing: line[0..<firstSpace])
            let targetBytes = UnsafeBufferPointer(rebasing: line[afterMethod..<secondSpace])
            let versionBytes = UnsafeBufferPointer(rebasing: line[(secondSpace + 1)...])
            if methodBytes.isEmpty || !methodBytes.allSatisfy(HTTPSyntax.isTokenByte) { return .invalidMethod }
            if targetBytes.isEmpty { return .malformedRequestLine }
            if !targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { return .invalidTarget }
            if targetBytes[0] != UInt8(ascii: "/") && !(targetBytes.count == 1 && targetBytes[0] == UInt8(ascii: "*")) {
                return .invalidTarget
            }
            switch HTTPSyntax.parseVersion(versionBytes) {
            case .supported(let parsed): version = parsed
            case .unsupported: return .unsupportedVersion
            case .malformed: return versionBytes.contains(0x20) ? .malformedRequestLine : .malformedVersion
            }
            method = HTTPMethod.parse(methodBytes)
            target = String(decoding: targetBytes, as: UTF8.self)
            return nil
        }
    }

    private mutating func parseHeaderLine(_ range: Range<Int>) -> HTTPParserError.Code? {
        let field = buffer.withUnsafeBufferPointer { all -> (String, String)? in
            let line = UnsafeBufferPointer(rebasing: all[range])
            // Leading whitespace is obsolete line folding (RFC 9112 §5.2): refused.
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
            let name = UnsafeBufferPointer(rebasing: line[0..<colon])
            guard name.allSatisfy(HTTPSyntax.isTokenByte) else { return nil }
            var start = colon + 1
            var end = line.count
            while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
            while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
            let value = UnsafeBufferPointer(rebasing: line[start..<end])
            guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else { return nil }
            return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        guard let field else { return .malformedHeader }
        headers.add(name: field.0, value: field.1)
        return nil
    }

    private mutating func finishHead() -> HTTPParserAction {
        var contentLength: Int?
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        for field in headers {
            if HTTPHeaders.equalsIgnoringCase(field.name, "transfer-encoding") {
                return fail(.transferEncodingNotSupported)
            } else if HTTPHeaders.equalsIgnoringCase(field.name, "content-length") {
                if contentLength != nil { return fail(.duplicateContentLength) }
                guard let parsed = HTTPSyntax.parseContentLength(field.value) else { return fail(.invalidContentLength) }
                contentLength = parsed
            } else if HTTPHeaders.equalsIgnoringCase(field.name, "host") {
                hostCount += 1
            } else if HTTPHeaders.equalsIgnoringCase(field.name, "connection") {
                for token in field.value.split(separator: ",") {
                    let option = token.trimmingSpaces
                    if HTTPHeaders.equalsIgnoringCase(option, "close") { connectionClose = true }
                    if HTTPHeaders.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
                }
            }
        }
        if hostCount > 1 { return fail(.duplicateHost) }
        if hostCount == 0 && version == .http1_1 { return fail(.missingHost) }
        let keepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let length = contentLength ?? 0
        let head = HTTPRequestHead(
            method: method, target: target, version: version, headers: headers,
            contentLength: length, keepAlive: keepAlive)
        headers = HTTPHeaders()
        target = ""
        state = .awaitingBodyLimit(contentLength: length)
        return .headComplete(head)
    }
}

extension Substring {
    var trimmingSpaces: String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
