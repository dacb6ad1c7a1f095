/// Decodes a `Transfer-Encoding: chunked` request body (RFC 9112 §7.1): a pure state machine
/// that consumes input in pieces of any size (one byte at a time included) and says where the
/// body's data lies in each piece. No buffering, no sockets: `HTTPRequestParser` owns the bytes.
///
/// - chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk = 1*"0" [ chunk-ext ] CRLF;
///   then trailer fields, skipped, and the final CRLF.
/// - Every line ends with CRLF: a bare LF (or CR) in the framing is refused, since parsers that
///   disagree on line ends are how chunked bodies get smuggled.
/// - Chunk extensions are skipped unparsed, but their line is bounded (`maxLineBytes`) and may
///   hold no control bytes but HTAB; trailer fields are bounded in total (`maxTrailerBytes`).
/// - The decoded size is bounded by `maxBodyBytes` when each chunk's size line is complete,
///   before any of its data is read (413); a size that does not fit an `Int` is malformed (400).
public struct ChunkedBodyDecoder: Sendable, Equatable {
    enum State: Sendable, Equatable {
        /// Reading the hex digits of a chunk size (`value` so far, from `digits` digits).
        case size(value: Int, digits: Int)
        /// Whitespace after the size (BWS): only `;` or the CR may follow.
        case sizeWhitespace(size: Int)
        /// Chunk extensions, skipped up to the CR.
        case sizeExtension(size: Int)
        /// The CR of the size line is read; its LF must follow.
        case sizeLineFeed(size: Int)
        case data(remaining: Int)
        /// A chunk's data is read; its CRLF must follow.
        case dataCarriageReturn
        case dataLineFeed
        /// At the start of a trailer line, or of the final CRLF.
        case trailerLineStart
        /// Inside a trailer field line, up to its CR.
        case trailerLine
        /// The CR ending a trailer line is read; its LF must follow. `final`: the line was empty.
        case trailerLineFeed(final: Bool)
        case done
        case failed(HTTPParserError.Code)
    }

    /// What a call to `decode` found.
    public enum Event: Sendable, Equatable {
        /// Everything given was consumed without finding body data; feed more.
        case needMoreData
        /// Body data at these offsets of the input given (consumed up to their end).
        case data(Range<Int>)
        /// The last chunk and the trailer section are complete: the body ended.
        case end
    }

    public let maxBodyBytes: Int
    public let maxLineBytes: Int
    public let maxTrailerBytes: Int
    private(set) var state = State.size(value: 0, digits: 0)
    /// Decoded body bytes so far.
    public private(set) var bodyBytes = 0
    /// Bytes of the current size line (with its extensions).
    private var lineBytes = 0
    private var trailerBytes = 0

    public init(maxBodyBytes: Int, maxLineBytes: Int = 4096, maxTrailerBytes: Int = 32768) {
        self.maxBodyBytes = maxBodyBytes
        self.maxLineBytes = maxLineBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    public var isComplete: Bool { state == .done }

    /// Why the body was refused, once it was.
    public var failure: HTTPParserError.Code? {
        if case .failed(let code) = state { return code }
        return nil
    }

    /// Consumes `input` from its start until body data is found (returned with its offsets),
    /// the body ends, or the input is used up. Returns the bytes consumed and what was found;
    /// call again with the rest of the input. After an error every call fails the same way.
    public mutating func decode(_ input: UnsafeBufferPointer<UInt8>) -> (consumed: Int, event: Result<Event, HTTPParserError>) {
        var index = 0
        while index < input.count {
            let byte = input[index]
            switch state {
            case .size(let value, let digits):
                if let digit = Self.hexValue(byte) {
                    // 15 hex digits always fit; beyond that check (leading zeros are allowed).
                    guard value <= (Int.max - digit) >> 4 else { return fail(.invalidChunkedBody, consumed: index) }
                    state = .size(value: value << 4 | digit, digits: digits + 1)
                } else {
                    guard digits > 0 else { return fail(.invalidChunkedBody, consumed: index) }
                    if let error = endOfSize(value, at: byte) { return fail(error, consumed: index) }
                }
                lineBytes += 1
            case .sizeWhitespace(let size):
                switch byte {
                case 0x20, 0x09: break
                case UInt8(ascii: ";"): state = .sizeExtension(size: size)
                case 0x0D: state = .sizeLineFeed(size: size)
                default: return fail(.invalidChunkedBody, consumed: index)
                }
                lineBytes += 1
            case .sizeExtension(let size):
                if byte == 0x0D {
                    state = .sizeLineFeed(size: size)
                } else if !HTTPSyntax.isFieldValueByte(byte) {
                    return fail(.invalidChunkedBody, consumed: index)
                }
                lineBytes += 1
            case .sizeLineFeed(let size):
                guard byte == 0x0A else { return fail(.invalidChunkedBody, consumed: index) }
                lineBytes = 0
                if size == 0 {
                    state = .trailerLineStart
                } else {
                    bodyBytes += size
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let take = min(remaining, input.count - index)
                state = take == remaining ? .dataCarriageReturn : .data(remaining: remaining - take)
                return (index + take, .success(.data(index..<index + take)))
            case .dataCarriageReturn:
                guard byte == 0x0D else { return fail(.invalidChunkedBody, consumed: index) }
                state = .dataLineFeed
            case .dataLineFeed:
                guard byte == 0x0A else { return fail(.invalidChunkedBody, consumed: index) }
                state = .size(value: 0, digits: 0)
            case .trailerLineStart:
                if byte == 0x0D {
                    state = .trailerLineFeed(final: true)
                } else if HTTPSyntax.isTokenByteFast(byte) {
                    state = .trailerLine
                } else {
                    return fail(.invalidChunkedBody, consumed: index)  // obs-fold, bare LF, junk
                }
                trailerBytes += 1
            case .trailerLine:
                if byte == 0x0D {
                    state = .trailerLineFeed(final: false)
                } else if !HTTPSyntax.isFieldValueByte(byte) {
                    return fail(.invalidChunkedBody, consumed: index)
                }
                trailerBytes += 1
            case .trailerLineFeed(let final):
                guard byte == 0x0A else { return fail(.invalidChunkedBody, consumed: index) }
                if final {
                    state = .done
                    return (index + 1, .success(.end))
                }
                state = .trailerLineStart
                trailerBytes += 1
            case .done:
                return (index, .success(.end))
            case .failed(let code):
                return (index, .failure(HTTPParserError(code)))
            }
            if lineBytes > maxLineBytes { return fail(.chunkLineTooLong, consumed: index) }
            if trailerBytes > maxTrailerBytes { return fail(.headerFieldsTooLarge, consumed: index) }
            index += 1
        }
        if state == .done { return (index, .success(.end)) }
        if case .failed(let code) = state { return (index, .failure(HTTPParserError(code))) }
        return (index, .success(.needMoreData))
    }

    /// The size's digits ended at `byte`: on to the extensions or the line's LF, if the chunk fits.
    private mutating func endOfSize(_ size: Int, at byte: UInt8) -> HTTPParserError.Code? {
        switch byte {
        case 0x0D: state = .sizeLineFeed(size: size)
        case UInt8(ascii: ";"): state = .sizeExtension(size: size)
        case 0x20, 0x09: state = .sizeWhitespace(size: size)
        default: return .invalidChunkedBody
        }
        // Refused before its data: the decoded body may not pass the route's limit.
        if size > maxBodyBytes - bodyBytes { return .bodyTooLarge }
        return nil
    }

    private mutating func fail(_ code: HTTPParserError.Code, consumed: Int) -> (consumed: Int, event: Result<Event, HTTPParserError>) {
        state = .failed(code)
        return (consumed, .failure(HTTPParserError(code)))
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- 0x57)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- 0x37)
        default: nil
        }
    }
}
