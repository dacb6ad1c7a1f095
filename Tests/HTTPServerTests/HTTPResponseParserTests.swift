import Testing

@testable import HTTPServer

@Suite struct HTTPResponseParserTests {
    @Test func pipelinedResponsesAtEverySplit() throws {
        let wire = bytes(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        for split in 0...wire.count {
            var parser = HTTPResponseParser()
            var responses: [HTTPClientResponse] = []
            for chunk in [Array(wire[..<split]), Array(wire[split...])] {
                parser.append(chunk)
                while let response = try parser.next() { responses.append(response) }
            }
            #expect(responses.map(\.status) == [200, 204, 404], "split \(split)")
            #expect(responses.first?.bodyString == "hello")
            #expect(responses.first?.headers["x-a"] == "1")
            #expect(responses.last?.closesConnection == true)
            #expect(parser.isIdle)
        }
    }

    @Test func bodyUntilCloseAndTruncation() throws {
        var parser = HTTPResponseParser()
        parser.append(bytes("HTTP/1.0 200 OK\r\n\r\nstream"))
        #expect(try parser.next() == nil)
        #expect(try parser.finish()?.bodyString == "stream")

        var truncated = HTTPResponseParser()
        truncated.append(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        #expect(try truncated.next() == nil)
        #expect(throws: HTTPClientError.connectionClosed) { try truncated.finish() }
    }

    @Test func malformed() {
        var parser = HTTPResponseParser()
        parser.append(bytes("HTTX/1.1 200 OK\r\n\r\n"))
        #expect(throws: HTTPClientError.malformedResponse(.statusLine)) { try parser.next() }
        var chunked = HTTPResponseParser()
        chunked.append(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(throws: HTTPClientError.malformedResponse(.transferEncodingUnsupported)) { try chunked.next() }
    }

    @Test func requestEncoding() {
        let encoded = BlockingHTTPClient.encode(
            method: "POST", path: "/x", host: "127.0.0.1:80", headers: [("X-A", "1")], body: bytes("{}"))
        #expect(String(decoding: encoded, as: UTF8.self) == "POST /x HTTP/1.1\r\nX-A: 1\r\nHost: 127.0.0.1:80\r\nContent-Length: 2\r\n\r\n{}")
    }
}
