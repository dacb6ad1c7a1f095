/// Why a request could not be parsed, with the status to answer. After any parser error the
/// framing of the byte stream is lost, so the connection answers and then closes.
public struct HTTPParserError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable codes; the raw value is the `code` of the JSON error body.
    public enum Code: String, Sendable {
        case requestLineTooLong = "request_line_too_long"  // 414
        case headerFieldsTooLarge = "header_fields_too_large"  // 431 (bytes)
        case tooManyHeaderFields = "too_many_header_fields"  // 431 (count)
        case malformedRequestLine = "malformed_request_line"  // 400
        case invalidMethod = "invalid_method"  // 400
        case invalidTarget = "invalid_target"  // 400
        case malformedVersion = "malformed_version"  // 400
        case unsupportedVersion = "http_version_not_supported"  // 505
        case malformedHeader = "malformed_header"  // 400
        case invalidTransferEncoding = "invalid_transfer_encoding"  // 400: chunked not the one final coding, or HTTP/1.0
        case transferCodingNotImplemented = "transfer_coding_not_implemented"  // 501: a coding before chunked (gzip, ...)
        case contentLengthWithTransferEncoding = "content_length_with_transfer_encoding"  // 400 (smuggling)
        case invalidChunkedBody = "invalid_chunked_body"  // 400
        case chunkLineTooLong = "chunk_line_too_long"  // 400: a chunk-size line (with extensions) over the limit
        case invalidContentLength = "invalid_content_length"  // 400
        case duplicateContentLength = "duplicate_content_length"  // 400
        case missingHost = "missing_host"  // 400
        case duplicateHost = "duplicate_host"  // 400
        case bodyTooLarge = "body_too_large"  // 413
        case expectationFailed = "expectation_failed"  // 417: an `Expect` other than 100-continue
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    /// The status to answer with.
    public var status: Int {
        switch code {
        case .requestLineTooLong: 414
        case .headerFieldsTooLarge, .tooManyHeaderFields: 431
        case .unsupportedVersion: 505
        case .transferCodingNotImplemented: 501
        case .bodyTooLarge: 413
        case .expectationFailed: 417
        default: 400
        }
    }

    /// Always true: once a request is malformed (or its body is left unread) the stream is unusable.
    public var closeConnection: Bool { true }

    public var message: String {
        switch code {
        case .requestLineTooLong: "request line too long"
        case .headerFieldsTooLarge: "header fields too large"
        case .tooManyHeaderFields: "too many header fields"
        case .malformedRequestLine: "malformed request line"
        case .invalidMethod: "invalid method token"
        case .invalidTarget: "invalid request target"
        case .malformedVersion: "malformed HTTP version"
        case .unsupportedVersion: "only HTTP/1.0 and HTTP/1.1 are supported"
        case .malformedHeader: "malformed header field"
        case .invalidTransferEncoding: "Transfer-Encoding must be chunked, once and last (HTTP/1.1 only)"
        case .transferCodingNotImplemented: "only the chunked transfer coding is implemented"
        case .contentLengthWithTransferEncoding: "Content-Length and Transfer-Encoding together"
        case .invalidChunkedBody: "malformed chunked body (hex chunk sizes, every line ended by CRLF)"
        case .chunkLineTooLong: "chunk size line too long"
        case .invalidContentLength: "invalid Content-Length"
        case .duplicateContentLength: "duplicate Content-Length"
        case .missingHost: "missing Host header"
        case .duplicateHost: "duplicate Host header"
        case .bodyTooLarge: "request body too large"
        case .expectationFailed: "only Expect: 100-continue is supported"
        }
    }

    public var description: String { "\(status) \(code.rawValue)" }

    /// The JSON error response for this error.
    public var response: HTTPResponse {
        HTTPResponse.error(status: status, code: code.rawValue, message: message)
    }
}

/// Size limits the parser enforces on a request head and a chunked body's framing.
public struct HTTPParserLimits: Sendable, Equatable {
    public var maxRequestLineBytes: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    /// A chunked body's size line, chunk extensions included (its trailer section is bounded
    /// by `maxHeaderBytes`).
    public var maxChunkLineBytes: Int

    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100, maxChunkLineBytes: Int = 4096) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}

/// What the parser produced from the bytes it holds.
public enum HTTPParserAction: Equatable, Sendable {
    /// Feed more bytes, then call `next()` again.
    case needMoreData
    /// A head is complete; call `continueWithBodyLimit(_:)` before `next()`.
    case headComplete(HTTPRequestHead)
    /// Some body bytes (a view of the parser's buffer; copy them before the next `append`).
    case body(ArraySlice<UInt8>)
    /// The current request's body is complete.
    case requestComplete
    /// The request is invalid: answer `error.status` and close. The parser stays failed.
    case error(HTTPParserError)
}
