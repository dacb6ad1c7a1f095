import Testing

@testable import HTTPServer

@Suite struct HTTPRequestTests {
    @Test func pathAndQueryDecoding() {
        let request = HTTPRequest(method: .GET, target: "/v1/wallet?user=a%20b&city=S%C3%A3o+Paulo&flag&empty=&bad=%zz&x=1&x=2")
        #expect(request.path == "/v1/wallet")
        #expect(request.query == ["user": "a b", "city": "São Paulo", "flag": "", "empty": "", "bad": "%zz", "x": "2"])
        #expect(HTTPRequest(method: .GET, target: "/plain").query == [:])
        #expect(HTTPRequest(method: .GET, target: "/plain?").query == [:])
        #expect(HTTPRequest(method: .GET, target: "/a%2Fb?k%3D=v%26").query == ["k=": "v&"])
        #expect(request.repeatedQueryParameter == "x")
        #expect(HTTPRequest(method: .GET, target: "/a?x=1&y=1").repeatedQueryParameter == nil)
        // Encoded and plain spellings of one name are the same name.
        #expect(HTTPRequest(method: .GET, target: "/a?order_id=1&order%5Fid=2").repeatedQueryParameter == "order_id")
    }

    @Test func headersAreCaseInsensitiveAndOrdered() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-A": "1"]
        headers.add(name: "x-a", value: "2")
        #expect(headers["content-type"] == "application/json")
        #expect(headers["CONTENT-TYPE"] == "application/json")
        #expect(headers.values(for: "X-a") == ["1", "2"])
        #expect(headers["missing"] == nil)
        headers["X-A"] = "3"
        #expect(headers.map { "\($0.name)=\($0.value)" } == ["Content-Type=application/json", "X-A=3"])
        #expect(HTTPHeaders.equalsIgnoringCase("a-b", "A-B"))
        #expect(!HTTPHeaders.equalsIgnoringCase("a[", "A{"))
        #expect(!HTTPHeaders.equalsIgnoringCase("ab", "abc"))
    }

    @Test func errorResponseShapeAndEscaping() {
        let response = HTTPResponse.error(status: 409, code: "sold_out", message: "no \"stock\" left\\\n\u{1}é")
        #expect(response.status == 409)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.bodyString == #"{"error":{"code":"sold_out","message":"no \"stock\" left\\\n\u0001é"}}"#)
        let limited = HTTPResponse.error(status: 429, code: "rate_limited", message: "slow down", retryAfterSeconds: 2)
        #expect(limited.headers["Retry-After"] == "2")
    }

    @Test func serialization() {
        var response = HTTPResponse.json(status: 201, body: bytes("{}"))
        response.headers.add(name: "Content-Length", value: "999")  // ignored: computed
        #expect(
            String(decoding: response.serialized(), as: UTF8.self)
                == "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        // No Content-Length and no body after 204 or 304 (RFC 9110 §8.6, §15.3.5); none after 1xx.
        #expect(
            String(decoding: HTTPResponse(status: 204, body: bytes("dropped")).serialized(close: true), as: UTF8.self)
                == "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        #expect(
            String(decoding: HTTPResponse(status: 304, body: bytes("dropped")).serialized(), as: UTF8.self)
                == "HTTP/1.1 304 Not Modified\r\n\r\n")
        #expect(String(decoding: HTTPResponse(status: 100).serialized(), as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        // HEAD: GET's Content-Length, no body.
        #expect(
            String(decoding: response.serialized(toHEAD: true), as: UTF8.self)
                == "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
        #expect(
            String(decoding: HTTPResponse.error(status: 405, code: "c", message: "m").serialized(toHEAD: true), as: UTF8.self)
                == "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n")
        var buffer: [UInt8] = []
        appendDecimal(1_234_567_890, to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "1234567890")
    }
}
