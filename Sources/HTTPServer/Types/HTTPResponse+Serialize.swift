extension HTTPResponse {
    /// Whether a body follows this response's head on the wire: never for a HEAD request, nor
    /// for 1xx, 204 or 304 (RFC 9110 §6.4.1, RFC 9112 §6.3); the handler's body is dropped then.
    func sendsBody(toHEAD: Bool) -> Bool {
        !toHEAD && status >= 200 && status != 204 && status != 304
    }

    /// Appends the head: status line, the handler's headers (minus any `Content-Length`,
    /// `Connection`, `Transfer-Encoding`), `Content-Length` (the body's, also for HEAD, as GET
    /// would send it; none for 1xx, 204 and 304), then `Connection: close` or, for HTTP/1.0
    /// keep-alive, `Connection: keep-alive`.
    func serializeHead(into buffer: inout [UInt8], close: Bool, http10KeepAlive: Bool = false) {
        buffer.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &buffer)
        buffer.append(0x20)
        buffer.append(contentsOf: HTTPStatus.reasonPhrase(status).utf8)
        buffer.append(contentsOf: "\r\n".utf8)
        for field in headers {
            if HTTPHeaders.equalsIgnoringCase(field.name, "content-length")
                || HTTPHeaders.equalsIgnoringCase(field.name, "connection")
                || HTTPHeaders.equalsIgnoringCase(field.name, "transfer-encoding")
            {
                continue
            }
            buffer.append(contentsOf: field.name.utf8)
            buffer.append(contentsOf: ": ".utf8)
            buffer.append(contentsOf: field.value.utf8)
            buffer.append(contentsOf: "\r\n".utf8)
        }
        if status >= 200 && status != 204 && status != 304 {
            buffer.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(body.count, to: &buffer)
            buffer.append(contentsOf: "\r\n".utf8)
        }
        if close {
            buffer.append(contentsOf: "Connection: close\r\n".utf8)
        } else if http10KeepAlive {
            buffer.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        buffer.append(contentsOf: "\r\n".utf8)
    }

    /// The wire form as a new buffer (tests, tools): head, then the body unless `toHEAD` or
    /// the status forbids one.
    public func serialized(close: Bool = false, toHEAD: Bool = false) -> [UInt8] {
        var buffer: [UInt8] = []
        serializeHead(into: &buffer, close: close)
        if sendsBody(toHEAD: toHEAD) { buffer.append(contentsOf: body) }
        return buffer
    }
}

@inline(__always)
func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
    if value == 0 {
        buffer.append(UInt8(ascii: "0"))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var remaining = value.magnitude
    withUnsafeMutableBytes(of: &digits) { raw in
        while remaining > 0 {
            raw[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            count += 1
        }
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[index]) }
    }
}

/// Reason phrases for the statuses this service uses.
public enum HTTPStatus {
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
