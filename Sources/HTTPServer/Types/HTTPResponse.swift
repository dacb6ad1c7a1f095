/// A response a handler gives its `Responder`. The connection adds `Content-Length` and,
/// when it is closing, `Connection: close`; handlers must not set either.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// `application/json` with the given (already encoded) body.
    public static func json(status: Int = 200, body: [UInt8], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        // The usual case shares one header list (no allocation per response).
        if headers.isEmpty { return HTTPResponse(status: status, headers: jsonHeaders, body: body) }
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private static let jsonHeaders: HTTPHeaders = {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        return headers
    }()

    /// `text/plain; charset=utf-8`.
    public static func text(status: Int = 200, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
    }

    /// The API's error shape, exactly `{"error":{"code":"...","message":"..."}}`.
    /// `retryAfterSeconds` adds `Retry-After` (429, 503).
    public static func error(status: Int, code: String, message: String, retryAfterSeconds: Int? = nil) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(40 + code.utf8.count + message.utf8.count)
        body.append(contentsOf: #"{"error":{"code":"#.utf8)
        JSONEscaping.appendString(code, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        JSONEscaping.appendString(message, to: &body)
        body.append(contentsOf: "}}".utf8)
        var response = json(status: status, body: body)
        if let retryAfterSeconds {
            response.headers.add(name: "Retry-After", value: String(retryAfterSeconds))
        }
        return response
    }

    public var bodyString: String { String(decoding: body, as: UTF8.self) }
}

/// JSON string escaping (RFC 8259 §7): quotes, backslash and control characters.
public enum JSONEscaping {
    /// Appends `"escaped"` (with the quotes) to `buffer`.
    public static func appendString(_ string: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): buffer.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: buffer.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: buffer.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: buffer.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: buffer.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: buffer.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x00..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                buffer.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    public static func quoted(_ string: String) -> String {
        var buffer: [UInt8] = []
        appendString(string, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
