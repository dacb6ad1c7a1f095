/// Called once per response written: route pattern (or "unmatched"), method, status, and the
/// nanoseconds from the request head being complete to the response being queued for write.
/// Pattern and method come from closed sets (registered patterns or "unmatched"; a standard
/// method or `HTTPMethod(rawValue: "other")`), so they are safe as metric labels.
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
    /// From the first byte of a request until its body is complete; on expiry 408 and close.
    public var requestTimeout: Duration
    /// Once a body has been arriving for `bodyRateGracePeriod`, its average rate must stay at
    /// or above this many bytes per second, else 408 and close. 0 disables the check.
    public var minBodyBytesPerSecond: Int
    public var bodyRateGracePeriod: Duration
    /// Requests read but not yet answered, per connection; reading pauses at the limit.
    public var maxPipelinedRequests: Int
    /// Response bytes queued for a connection that has not read them; reading its requests
    /// pauses while more than this is queued, and resumes as the peer reads.
    public var maxOutputBytes: Int
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
        requestTimeout: Duration = .seconds(30),
        minBodyBytesPerSecond: Int = 1024,
        bodyRateGracePeriod: Duration = .seconds(5),
        maxPipelinedRequests: Int = 64,
        maxOutputBytes: Int = 256 * 1024,
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
        self.requestTimeout = requestTimeout
        self.minBodyBytesPerSecond = minBodyBytesPerSecond
        self.bodyRateGracePeriod = bodyRateGracePeriod
        self.maxPipelinedRequests = maxPipelinedRequests
        self.maxOutputBytes = maxOutputBytes
        self.onResponse = onResponse
    }

    var timeoutLimits: ConnectionTimeouts.Limits {
        ConnectionTimeouts.Limits(
            headerTimeout: headerReadTimeout.nanoseconds, requestTimeout: requestTimeout.nanoseconds,
            idleTimeout: idleTimeout.nanoseconds, minBodyBytesPerSecond: max(minBodyBytesPerSecond, 0),
            bodyRateGrace: bodyRateGracePeriod.nanoseconds)
    }

    /// What each connection's state machine enforces.
    var connectionConfiguration: HTTPConnectionMachine.Configuration {
        HTTPConnectionMachine.Configuration(
            parserLimits: parserLimits, timeouts: timeoutLimits, maxPipelinedRequests: maxPipelinedRequests,
            maxOutputBytes: maxOutputBytes)
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
