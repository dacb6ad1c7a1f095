/// HTTP protocol version of a request.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A request head as the parser emits it, before the body is read.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request target exactly as sent (`/v1/x?y=z`).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// Declared body length (0 when there is no `Content-Length`, or the body is chunked).
    public var contentLength: Int
    /// The body is `Transfer-Encoding: chunked`: its length is known at its end only.
    public var isChunked: Bool
    /// Whether the connection stays open after this request (version default + `Connection`).
    public var keepAlive: Bool
    /// `Expect: 100-continue` was sent: the client may wait for `100 Continue` before the body.
    public var expectsContinue: Bool

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders,
        contentLength: Int, keepAlive: Bool, expectsContinue: Bool = false, isChunked: Bool = false
    ) {
        self.expectsContinue = expectsContinue
        self.isChunked = isChunked
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.contentLength = contentLength
        self.keepAlive = keepAlive
    }

    /// A body follows the head (possibly an empty chunked one).
    public var hasBody: Bool { isChunked || contentLength > 0 }
}

/// A complete request handed to a route handler.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The target exactly as sent, query included.
    public var target: String
    /// The target's path, without the query, not percent-decoded (route parameters are).
    public var path: String
    /// Query parameters, percent-decoded (`+` is a space).
    public var query: [String: String]
    /// The first query parameter name given more than once, if any (the API refuses such requests).
    public var repeatedQueryParameter: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// A streaming route's body, arriving in chunks (`body` is then empty); nil otherwise.
    public var bodyStream: HTTPBodyStream?
    public var keepAlive: Bool
    /// The TCP peer's address as text (`""` when unknown); the client's own address may differ
    /// behind a proxy (the application decides whether to trust `X-Forwarded-For`).
    public var peerAddress: String

    public init(head: HTTPRequestHead, body: [UInt8] = [], peerAddress: String = "") {
        self.peerAddress = peerAddress
        method = head.method
        target = head.target
        let (path, rawQuery) = PercentDecoding.splitTarget(head.target)
        self.path = path
        let parsed = rawQuery.map(PercentDecoding.parseQuery)
        query = parsed?.parameters ?? [:]
        repeatedQueryParameter = parsed?.repeated
        version = head.version
        headers = head.headers
        self.body = body
        keepAlive = head.keepAlive
    }

    /// A request built by hand (tests, in-process callers).
    public init(
        method: HTTPMethod, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
        keepAlive: Bool = true
    ) {
        self.init(
            head: HTTPRequestHead(
                method: method, target: target, version: .http1_1, headers: headers,
                contentLength: body.count, keepAlive: keepAlive),
            body: body)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyString: String { String(decoding: body, as: UTF8.self) }
}
