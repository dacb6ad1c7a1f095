/// A response as the test/tool client reads it.
public struct HTTPClientResponse: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// True when the server said it will close the connection after this response.
    public var closesConnection: Bool {
        headers.values(for: "connection").contains { value in
            value.split(separator: ",").contains { HTTPHeaders.equalsIgnoringCase($0.trimmingSpaces, "close") }
        }
    }
}

/// Failures of `BlockingHTTPClient` and `HTTPResponseParser`.
public enum HTTPClientError: Error, Sendable, Equatable {
    case connectFailed(errno: Int32)
    case io(IOErrorCode)
    /// No response within the client's timeout.
    case timeout
    /// The server closed the connection before a complete response.
    case connectionClosed
    case malformedResponse(MalformedResponse)

    public enum MalformedResponse: Sendable, Equatable {
        case statusLine
        case headerLine
        case contentLength
        case transferEncodingUnsupported
        case headTooLarge
    }

    /// errno and the call that failed.
    public struct IOErrorCode: Sendable, Equatable {
        public let errno: Int32
        public let function: String
    }
}
