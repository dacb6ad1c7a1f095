/// Called once per response written: route pattern (or "unmatched"), method, status, and the
/// nanoseconds from the request head being complete to the response being queued for write.
public typealias HTTPResponseObserver = @Sendable (_ routePattern: String, _ method: HTTPMethod, _ status: Int, _ latencyNanos: UInt64) -> Void

/// Settings of an `HTTPServer`: where it listens, its limits and timeouts.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (see `HTTPServer.port`).
    public var port: Int
    public var backlog: Int
    public var maxRequestLineBytes: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    /// From the first byte of a request until its head is complete; on expiry the connection closes.
    public var headerReadTimeout: Duration
    /// Between requests (and without progress while reading a body or writing); on expiry the connection closes.
    public var idleTimeout: Duration
    /// Requests read but not yet answered, per connection; reading pauses at the limit.
    public var maxPipelinedRequests: Int
    public var onResponse: HTTPResponseObserver?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        backlog: Int = 1024,
        maxRequestLineBytes: Int = 8192,
        maxHeaderBytes: Int = 32768,
        maxHeaderCount: Int = 100,
        headerReadTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxPipelinedRequests: Int = 64,
        onResponse: HTTPResponseObserver? = nil
    ) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxPipelinedRequests = maxPipelinedRequests
        self.onResponse = onResponse
    }

    var parserLimits: HTTPParserLimits {
        HTTPParserLimits(
            maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount)
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(max(attoseconds, 0) / 1_000_000_000)
    }
}
