import Glibc

/// Incremental HTTP/1.x request parser: a pure state machine, no sockets (hiredis' reader
/// style). Feed bytes with `append`, pull actions with `next()` until `.needMoreData`.
///
/// - HTTP/1.1 and HTTP/1.0; well-formed `HTTP/2+` gets 505, anything else malformed 400.
/// - Bodies are framed by `Content-Length` or by `Transfer-Encoding: chunked` (RFC 9112 §6.1),
///   decoded by `ChunkedBodyDecoder`; `.body` actions carry decoded bytes either way. Against
///   smuggling, a request with both headers gets 400, as does chunked that is not the one final
///   coding or comes with HTTP/1.0; a coding before chunked (`gzip, chunked`) gets 501.
/// - After `.headComplete` the parser pauses until `continueWithBodyLimit(_:)`, so the caller
///   can refuse an oversized body (413) before reading a byte of it; a chunked body is held to
///   the same limit chunk by chunk, each chunk refused at its size line.
/// - Only origin-form targets (`/path?query`) and `*` are accepted.
/// - Several pipelined requests may sit in the buffer; input may be split anywhere.
public struct HTTPRequestParser: Sendable {
    enum State: Sendable, Equatable {
        case requestLine
        case headers
        case awaitingBodyLimit(contentLength: Int, chunked: Bool)
        case body(remaining: Int)
        case chunkedBody(ChunkedBodyDecoder)
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

    // The head being built. Header lines stay in `buffer` (compaction keeps them) as spans
    // until the head is complete; then one copy of them becomes the request's `RawHeaderFields`.
    private var method = HTTPMethod.GET
    /// The target of the head being read, kept after it: a keep-alive connection usually asks
    /// for the same one again (a client claiming in one campaign), and then shares this
    /// `String` instead of allocating another.
    private var target = ""
    private var version = HTTPVersion.http1_1
    /// Where the header lines of the head being read start in `buffer`.
    private var headStart = 0
    /// The head's fields, as positions relative to `headStart` (so compaction leaves them be).
    private var spans: [RawHeaderFields.Span] = []
    /// The last head's `RawHeaderFields` storage, shared with its request: once that request is
    /// gone, the next head is copied into it without an allocation (see `RawHeaderFields`).
    private(set) var headStorage: [UInt8] = []
    /// A larger head's storage is not kept for the next (idle connections stay small).
    static let reusedHeadStorageLimit = 4096

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        precondition(limits.maxHeaderBytes < Int(Int32.max), "HTTPRequestParser: header spans are 32-bit")
        self.limits = limits
    }

    // MARK: Input

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let keep = firstNeededIndex
        if keep > 0 && keep == buffer.count && buffer.capacity <= 1 << 20 {
            // All consumed, as between requests: one call replaces it (emptying, then appending,
            // took twice the work).
            buffer.replaceSubrange(0..<keep, with: bytes)
            shiftIndices(by: keep)
            return
        }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Arrays (tests, tools, benchmarks) take the contiguous path, not the generic one.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
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
        case .awaitingBodyLimit, .body, .chunkedBody: return true
        default: return false
        }
    }

    /// The first byte still needed: header lines already parsed are (their spans point into the
    /// buffer), and so is everything not yet consumed.
    private var firstNeededIndex: Int {
        if case .headers = state { return headStart }
        return readIndex
    }

    private mutating func compact() {
        let keep = firstNeededIndex
        if keep == 0 { return }
        if keep == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
        } else if keep >= 4096 || keep * 2 >= buffer.count {
            buffer.removeSubrange(0..<keep)
        } else {
            return
        }
        shiftIndices(by: keep)
    }

    /// Moves the positions into the buffer after its first `removed` bytes were dropped.
    private mutating func shiftIndices(by removed: Int) {
        scanIndex -= removed
        readIndex -= removed
        if case .headers = state { headStart -= removed }
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
        case .chunkedBody(let decoder):
            return nextChunkedBody(decoder)
        case .failed:
            return .needMoreData
        }
    }

    /// Resumes after `.headComplete`. Returns `.error(413)` (and fails the parser) when the
    /// declared body exceeds `limit`; nil when `next()` may continue.
    public mutating func continueWithBodyLimit(_ limit: Int) -> HTTPParserAction? {
        guard case .awaitingBodyLimit(let contentLength, let chunked) = state else {
            preconditionFailure("HTTPRequestParser: continueWithBodyLimit(_:) without a pending head")
        }
        if chunked {
            state = .chunkedBody(ChunkedBodyDecoder(
                maxBodyBytes: limit, maxLineBytes: limits.maxChunkLineBytes, maxTrailerBytes: limits.maxHeaderBytes))
            return nil
        }
        if contentLength > limit { return fail(.bodyTooLarge) }
        state = .body(remaining: contentLength)
        return nil
    }

    /// Decodes the chunked body in the buffer. The data of every chunk found is moved down over
    /// the framing before it (bytes already consumed), so one `.body` carries all the data the
    /// buffer holds however small the chunks: a body sent in 1-byte chunks costs no more events.
    private mutating func nextChunkedBody(_ start: ChunkedBodyDecoder) -> HTTPParserAction {
        var decoder = start
        if let code = decoder.failure { return fail(code) }
        if decoder.isComplete {
            state = .requestLine
            return .requestComplete
        }
        let dataStart = readIndex
        var dataEnd = readIndex
        var cursor = readIndex
        var failure: HTTPParserError?
        buffer.withUnsafeMutableBufferPointer { all in
            let base = all.baseAddress!
            decoding: while cursor < all.count {
                let (consumed, event) = decoder.decode(UnsafeBufferPointer(start: base + cursor, count: all.count - cursor))
                switch event {
                case .success(.data(let range)):
                    let from = cursor + range.lowerBound
                    if from != dataEnd { memmove(base + dataEnd, base + from, range.count) }
                    dataEnd += range.count
                    cursor += consumed
                case .success(.needMoreData), .success(.end):
                    cursor += consumed
                    break decoding
                case .failure(let error):
                    failure = error
                    break decoding
                }
            }
        }
        // Data before an error is still handed out; the decoder, failed, repeats the error next.
        if let failure, dataEnd == dataStart { return fail(failure.code) }
        readIndex = cursor
        scanIndex = cursor
        state = .chunkedBody(decoder)
        if dataEnd > dataStart { return .body(buffer[dataStart..<dataEnd]) }
        if decoder.isComplete {
            state = .requestLine
            return .requestComplete
        }
        return .needMoreData
    }

    private mutating func fail(_ code: HTTPParserError.Code) -> HTTPParserAction {
        state = .failed
        return .error(HTTPParserError(code))
    }

    // MARK: Head

    private mutating func parseHead() -> HTTPParserAction {
        while true {
            // Plain field lines first, in one pass each, then the blank line after them; any
            // other line they stop at (an unusual or incomplete one) takes the general path below.
            if case .headers = state, scanIndex == readIndex {
                switch readPlainFieldLines() {
                case .failed(let error): return fail(error)
                case .headEnd(let headEnd): return finishHead(headEnd: headEnd)
                case .otherLine: break
                }
            }
            guard let lineFeed = findLineFeed() else {
                scanIndex = buffer.count
                let pending = buffer.count - readIndex
                if case .requestLine = state {
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

            // `if case`, not `==`: the synthesized `==` compares every payload word of `State`.
            if case .requestLine = state {
                if lineEnd == lineStart { continue }  // RFC 9112 §2.2: ignore empty lines before a request
                if lineEnd - lineStart > limits.maxRequestLineBytes { return fail(.requestLineTooLong) }
                if let error = parseRequestLine(lineStart..<lineEnd) { return fail(error) }
                headerBytes = 0
                headStart = readIndex
                spans.removeAll(keepingCapacity: true)
                state = .headers
                continue
            }

            headerBytes += lineFeed + 1 - lineStart
            if lineEnd == lineStart { return finishHead(headEnd: lineStart) }
            if headerBytes > limits.maxHeaderBytes { return fail(.headerFieldsTooLarge) }
            if spans.count >= limits.maxHeaderCount { return fail(.tooManyHeaderFields) }
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

    /// A request line's parts; `target` is nil when it is the previous request's target.
    private enum RequestLine {
        case parsed(method: HTTPMethod, target: String?, version: HTTPVersion)
        case failed(HTTPParserError.Code)
    }

    private mutating func parseRequestLine(_ range: Range<Int>) -> HTTPParserError.Code? {
        // The closure only reads, so the buffer is not retained around it.
        let line = buffer.withUnsafeBufferPointer { all in
            Self.parseRequestLine(UnsafeBufferPointer(rebasing: all[range]), lastTarget: target)
        }
        switch consume line {
        case .failed(let code):
            return code
        case .parsed(let parsedMethod, let parsedTarget, let parsedVersion):
            method = parsedMethod
            version = parsedVersion
            if let parsedTarget { target = parsedTarget }
            return nil
        }
    }

    private static func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>, lastTarget: String) -> RequestLine {
        guard let firstSpace = line.firstIndex(of: 0x20) else { return .failed(.malformedRequestLine) }
        let afterMethod = firstSpace + 1
        guard let secondSpace = HTTPSyntax.firstIndex(of: 0x20, in: line, from: afterMethod) else { return .failed(.malformedRequestLine) }
        let methodBytes = UnsafeBufferPointer(rebasing: line[0..<firstSpace])
        let targetBytes = UnsafeBufferPointer(rebasing: line[afterMethod..<secondSpace])
        let versionBytes = UnsafeBufferPointer(rebasing: line[(secondSpace + 1)...])
        if methodBytes.isEmpty || !methodBytes.allSatisfy(HTTPSyntax.isTokenByteFast) { return .failed(.invalidMethod) }
        if targetBytes.isEmpty { return .failed(.malformedRequestLine) }
        if !HTTPSyntax.allVisibleASCII(targetBytes) { return .failed(.invalidTarget) }
        if targetBytes[0] != UInt8(ascii: "/") && !(targetBytes.count == 1 && targetBytes[0] == UInt8(ascii: "*")) {
            return .failed(.invalidTarget)
        }
        let version: HTTPVersion
        switch HTTPSyntax.parseVersion(versionBytes) {
        case .supported(let parsed): version = parsed
        case .unsupported: return .failed(.unsupportedVersion)
        case .malformed: return .failed(versionBytes.contains(0x20) ? .malformedRequestLine : .malformedVersion)
        }
        // memcmp over the String's UTF-8 (the generic `elementsEqual` walked it byte by byte).
        let repeated = lastTarget.utf8.withContiguousStorageIfAvailable { HTTPSyntax.equals($0, targetBytes) } == true
        return .parsed(
            method: HTTPMethod.parse(methodBytes), target: repeated ? nil : String(decoding: targetBytes, as: UTF8.self),
            version: version)
    }

    /// Where `readPlainFieldLines` stopped.
    private enum PlainLinesStop {
        /// At a line for the general path (or at the end of the bytes).
        case otherLine
        /// After the blank line (CRLF or LF) that ends the head, which starts at `headEnd`.
        case headEnd(Int)
        case failed(HTTPParserError.Code)
    }

    /// Reads the plain field lines from `readIndex` on (see `plainFieldLine`) and the blank
    /// line after them in one borrow of the buffer, with the general path's checks in its order.
    /// Only called at a line's first byte, so a line that arrives in pieces is scanned here
    /// once, not once per piece.
    private mutating func readPlainFieldLines() -> PlainLinesStop {
        var cursor = readIndex
        var bytes = headerBytes
        let stop = buffer.withUnsafeBufferPointer { all -> PlainLinesStop in
            while let (lineFeed, span) = Self.plainFieldLine(all, at: cursor, headStart: headStart) {
                bytes += lineFeed + 1 - cursor
                cursor = lineFeed + 1
                if bytes > limits.maxHeaderBytes { return .failed(.headerFieldsTooLarge) }
                if spans.count >= limits.maxHeaderCount { return .failed(.tooManyHeaderFields) }
                spans.append(span)
            }
            let blankLine: Int  // its length
            if cursor < all.count && all[cursor] == 0x0A {
                blankLine = 1
            } else if cursor + 1 < all.count && all[cursor] == 0x0D && all[cursor + 1] == 0x0A {
                blankLine = 2
            } else {
                return .otherLine
            }
            let headEnd = cursor
            bytes += blankLine
            cursor += blankLine
            return .headEnd(headEnd)
        }
        readIndex = cursor
        scanIndex = cursor
        headerBytes = bytes
        return stop
    }

    /// The plain field line at `start` — `Name: value` up to CRLF or LF, no tab or other control
    /// byte in it, the usual case — read in one pass that finds its line feed too. Nil for
    /// anything else (the blank line, a tab, a stray byte, no line end yet), which the general
    /// path (memchr for the line feed, then `parseHeaderLine`) answers as it always has.
    @inline(__always)  // once per line: the call cost more than its own work on short lines
    private static func plainFieldLine(
        _ all: UnsafeBufferPointer<UInt8>, at start: Int, headStart: Int
    ) -> (lineFeed: Int, span: RawHeaderFields.Span)? {
        let line = all.baseAddress! + start
        let count = all.count - start
        if count == 0 || line[0] == 0x0D || line[0] == 0x0A { return nil }
        guard let colon = HTTPSyntax.fieldNameLength(line, count: count), colon > 0 else { return nil }
        var valueStart = colon + 1
        while valueStart < count && line[valueStart] == 0x20 { valueStart += 1 }
        let stop = valueStart + HTTPSyntax.firstControlByte(line + valueStart, count: count - valueStart)
        let lineFeed: Int
        if stop < count && line[stop] == 0x0A {
            lineFeed = stop
        } else if stop + 1 < count && line[stop] == 0x0D && line[stop + 1] == 0x0A {
            lineFeed = stop + 1
        } else {
            return nil
        }
        var valueEnd = stop
        while valueEnd > valueStart && line[valueEnd - 1] == 0x20 { valueEnd -= 1 }
        let span = RawHeaderFields.Span(
            lineStart: start - headStart, nameEnd: colon, valueStart: valueStart, valueEnd: valueEnd)
        return (start + lineFeed, span)
    }

    /// Validates one field line and records its name and (trimmed) value as spans.
    private mutating func parseHeaderLine(_ range: Range<Int>) -> HTTPParserError.Code? {
        let span = buffer.withUnsafeBufferPointer { all -> RawHeaderFields.Span? in
            let base = all.baseAddress! + range.lowerBound
            let count = range.count
            // Leading whitespace is obsolete line folding (RFC 9112 §5.2): not a tchar, refused.
            guard let colon = HTTPSyntax.fieldNameLength(base, count: count), colon > 0 else { return nil }
            var start = colon + 1
            var end = count
            while start < end && (base[start] == 0x20 || base[start] == 0x09) { start += 1 }
            while end > start && (base[end - 1] == 0x20 || base[end - 1] == 0x09) { end -= 1 }
            if !HTTPSyntax.allFieldValueBytes(base + start, count: end - start) { return nil }
            return RawHeaderFields.Span(lineStart: range.lowerBound - headStart, nameEnd: colon, valueStart: start, valueEnd: end)
        }
        guard let span else { return .malformedHeader }
        spans.append(span)
        return nil
    }

    /// What the head's framing and connection fields say.
    private struct FieldSummary {
        var contentLength: Int?
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var transferEncoding = TransferCodings()

        /// Reads the fields that matter to the parser; the length check skips every other name
        /// without comparing a byte.
        @inline(__always)  // once per field
        mutating func add(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> HTTPParserError.Code? {
            switch name.count {
            case 17 where HTTPRequestParser.equalsLowercase(name, "transfer-encoding"):
                transferEncoding.add(value)
            case 14 where HTTPRequestParser.equalsLowercase(name, "content-length"):
                if contentLength != nil { return .duplicateContentLength }
                guard let parsed = HTTPSyntax.parseContentLength(value) else { return .invalidContentLength }
                contentLength = parsed
            case 6 where HTTPRequestParser.equalsLowercase(name, "expect"):
                guard HTTPRequestParser.equalsLowercase(value, "100-continue") else { return .expectationFailed }
                expectsContinue = true
            case 4 where HTTPRequestParser.equalsLowercase(name, "host"):
                hostCount += 1
            case 10 where HTTPRequestParser.equalsLowercase(name, "connection"):
                HTTPRequestParser.forEachListElement(value) { option in
                    if HTTPRequestParser.equalsLowercase(option, "close") { connectionClose = true }
                    if HTTPRequestParser.equalsLowercase(option, "keep-alive") { connectionKeepAlive = true }
                }
            default:
                break
            }
            return nil
        }
    }

    private mutating func finishHead(headEnd: Int) -> HTTPParserAction {
        var fields = FieldSummary()
        // One copy of the header lines and their spans (one allocation), made from the same
        // borrows as the field checks; `spans` keeps its capacity for the next head.
        let (failure, raw) = spans.withUnsafeBufferPointer { headSpans in
            buffer.withUnsafeBufferPointer { all -> (HTTPParserError.Code?, RawHeaderFields?) in
                let head = UnsafeBufferPointer(rebasing: all[headStart..<headEnd])
                for span in headSpans {
                    // Unchecked: the parser made every span inside this head.
                    let name = UnsafeBufferPointer(start: head.baseAddress! + Int(span.nameStart), count: Int(span.nameEnd &- span.nameStart))
                    let value = UnsafeBufferPointer(start: head.baseAddress! + Int(span.valueStart), count: Int(span.valueEnd &- span.valueStart))
                    if let failure = fields.add(name: name, value: value) { return (failure, nil) }
                }
                return (nil, RawHeaderFields(head: head, spans: headSpans, reusing: &headStorage))
            }
        }
        if headStorage.capacity > Self.reusedHeadStorageLimit { headStorage = [] }
        if let failure { return fail(failure) }
        if fields.transferEncoding.present {
            // RFC 9112 §6.1 and §6.3: both framings together may be a smuggling attempt.
            if fields.contentLength != nil { return fail(.contentLengthWithTransferEncoding) }
            if version == .http1_0 { return fail(.invalidTransferEncoding) }
            if let error = fields.transferEncoding.refusal { return fail(error) }
        }
        if fields.hostCount > 1 { return fail(.duplicateHost) }
        if fields.hostCount == 0 && version == .http1_1 { return fail(.missingHost) }
        let keepAlive = version == .http1_1 ? !fields.connectionClose : (fields.connectionKeepAlive && !fields.connectionClose)
        let length = fields.contentLength ?? 0
        let chunked = fields.transferEncoding.present
        let head = HTTPRequestHead(
            method: method, target: target, version: version, headers: HTTPHeaders(raw: raw!),
            contentLength: length, keepAlive: keepAlive, expectsContinue: fields.expectsContinue, isChunked: chunked)
        // `spans` is emptied when the next head starts; `target` is kept for the next.
        state = .awaitingBodyLimit(contentLength: length, chunked: chunked)
        return .headComplete(head)
    }

    /// The transfer codings of a head, over all its `Transfer-Encoding` lines (one list).
    private struct TransferCodings {
        var present = false
        var count = 0
        var chunkedCount = 0
        var lastIsChunked = false

        mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
            present = true
            HTTPRequestParser.forEachListElement(value) { coding in
                count += 1
                lastIsChunked = HTTPRequestParser.equalsLowercase(coding, "chunked")
                if lastIsChunked { chunkedCount += 1 }
            }
        }

        /// Chunked must be the final coding and appear once, or the length is unknown (400);
        /// any other coding before it is one this server does not implement (501).
        var refusal: HTTPParserError.Code? {
            if !lastIsChunked || chunkedCount > 1 { return .invalidTransferEncoding }
            if count > 1 { return .transferCodingNotImplemented }
            return nil
        }
    }

    /// Calls `body` with each element of a comma-separated list, spaces and tabs trimmed; empty
    /// elements don't count (RFC 9110 §5.6.1). No array of slices (`split` allocated one).
    @inline(__always)
    static func forEachListElement(_ list: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        while start <= list.count {
            var end = start
            while end < list.count && list[end] != UInt8(ascii: ",") { end += 1 }
            var first = start, last = end
            while first < last && (list[first] == 0x20 || list[first] == 0x09) { first += 1 }
            while last > first && (list[last - 1] == 0x20 || list[last - 1] == 0x09) { last -= 1 }
            if first < last { body(UnsafeBufferPointer(rebasing: list[first..<last])) }
            start = end + 1
        }
    }

    /// ASCII case-insensitive equality with a lower-case literal (false when the lengths differ).
    /// Eight bytes at a time from eight bytes on (the last word overlapping the one before),
    /// byte by byte below that.
    @inline(__always)
    static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        let count = lower.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        let wanted = lower.utf8Start
        if count < 8 {
            for index in 0..<count where lowercased(bytes[index]) != wanted[index] { return false }
            return true
        }
        func word(_ start: UnsafePointer<UInt8>, _ offset: Int) -> UInt64 {
            UnsafeRawPointer(start + offset).loadUnaligned(as: UInt64.self)
        }
        var offset = 0
        while offset < count {
            let at = min(offset, count - 8)
            if lowercased(word(bytes.baseAddress!, at)) != word(wanted, at) { return false }
            offset += 8
        }
        return true
    }

    /// `A`–`Z` made `a`–`z`, every other byte unchanged.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// Every byte of `word` with `A`–`Z` made `a`–`z`, every other byte unchanged: a byte's high
    /// bit, cleared first so no sum carries into the next byte, marks `>= 0x41` and `>= 0x5B`.
    @inline(__always)
    static func lowercased(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let ascii = word & (ones &* 0x7F)
        let fromA = ascii &+ ones &* (0x80 - 0x41)
        let pastZ = ascii &+ ones &* (0x80 - 0x5B)
        let upper = fromA & ~pastZ & ~word & (ones &* 0x80)
        return word | (upper >> 2)
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
