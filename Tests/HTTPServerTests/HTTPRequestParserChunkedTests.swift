import Testing

@testable import HTTPServer

/// `Transfer-Encoding: chunked` request bodies through the parser: framing checks on the head
/// (RFC 9112 §6.1, §6.3), decoded body, limits, and the next request on the same connection.
@Suite struct HTTPRequestParserChunkedTests {
    static let post = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n"
        + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"

    static let events: [ParsedEvent] = [
        .head(head(.POST, "/up", headers: [("Host", "h"), ("Transfer-Encoding", "chunked")], chunked: true)),
        .body(bytes("Wikipedia in\r\n\r\nchunks.")),
        .complete,
        .head(head(.GET, "/next", headers: [("Host", "h")])),
        .complete,
    ]

    @Test func decodedBodyThenTheNextRequestWhole() {
        #expect(parse([bytes(Self.post)]) == Self.events)
    }

    @Test func byteAtATimeAndEverySplitPoint() {
        let all = bytes(Self.post)
        #expect(parse(all.map { [$0] }) == Self.events)
        for split in 0...all.count {
            #expect(parse([Array(all[..<split]), Array(all[split...])]) == Self.events, "split at \(split)")
        }
    }

    @Test func tinyChunksInOneReadAreOneBodyEvent() {
        var parser = HTTPRequestParser()
        let data = (0..<200).map { UInt8(65 + $0 % 26) }
        parser.append(bytes("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"))
        parser.append(data.flatMap { bytes("1\r\n") + [$0] + bytes("\r\n") } + bytes("0\r\n\r\n"))
        guard case .headComplete(let head) = parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.isChunked && head.contentLength == 0 && head.hasBody)
        #expect(parser.continueWithBodyLimit(1000) == nil)
        #expect(parser.next() == .body(data[...]))
        #expect(parser.next() == .requestComplete)
        #expect(parser.next() == .needMoreData)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func anEmptyChunkedBodyAndCaseInsensitiveCoding() {
        #expect(parse([bytes("POST /x HTTP/1.1\r\nHost: h\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n")]) == [
            .head(head(.POST, "/x", headers: [("Host", "h"), ("transfer-encoding", "Chunked")], chunked: true)), .complete,
        ])
        // Empty list elements do not count (RFC 9110 §5.6.1).
        #expect(parse([bytes("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n0\r\n\r\n")]).last == .complete)
    }

    @Test func theRouteLimitHoldsForTheDecodedBody() {
        let wire = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"
        #expect(parse([bytes(wire)], bodyLimit: 11).suffix(2) == [.body(bytes("helloworld!")), .complete])
        #expect(parse([bytes(wire)], bodyLimit: 10).suffix(2) == [.body(bytes("hello")), .error(.bodyTooLarge, status: 413)])
        // Byte at a time, the 413 comes at the second size line all the same.
        #expect(parse(bytes(wire).map { [$0] }, bodyLimit: 10).suffix(2) == [.body(bytes("hello")), .error(.bodyTooLarge, status: 413)])
    }

    @Test func malformedChunkedBodiesFailTheParser() {
        func last(_ body: String, limits: HTTPParserLimits = HTTPParserLimits()) -> ParsedEvent? {
            parse([bytes("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "GET / HTTP/1.1\r\nHost: h\r\n\r\n")], limits: limits).last
        }
        #expect(last("3\r\nabc\n0\r\n\r\n") == .error(.invalidChunkedBody, status: 400))
        #expect(last("zz\r\n") == .error(.invalidChunkedBody, status: 400))
        #expect(last("10000000000000000\r\n") == .error(.invalidChunkedBody, status: 400))
        #expect(last("1;" + String(repeating: "e", count: 5000) + "\r\nx\r\n0\r\n\r\n") == .error(.chunkLineTooLong, status: 400))
        var small = HTTPParserLimits()
        small.maxChunkLineBytes = 8
        #expect(last("1;abcdefgh\r\nx\r\n0\r\n\r\n", limits: small) == .error(.chunkLineTooLong, status: 400))
        #expect(last("1;abcd\r\nx\r\n0\r\n\r\n", limits: small) == .complete)
        small.maxHeaderBytes = 64
        #expect(last("0\r\nX: " + String(repeating: "v", count: 100) + "\r\n\r\n", limits: small) == .error(.headerFieldsTooLarge, status: 431))
    }

    @Test func framingHeadersThatCouldSmuggleAreRefused() {
        func result(_ headerLines: String, version: String = "HTTP/1.1") -> ParsedEvent? {
            parse([bytes("POST / \(version)\r\nHost: h\r\n\(headerLines)\r\n0\r\n\r\n")]).last
        }
        let both = ParsedEvent.error(.contentLengthWithTransferEncoding, status: 400)
        #expect(result("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n") == both)
        #expect(result("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") == both)
        #expect(result("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n") == both)
        let invalid = ParsedEvent.error(.invalidTransferEncoding, status: 400)
        #expect(result("Transfer-Encoding: chunked\r\n", version: "HTTP/1.0") == invalid)  // §6.1: faulty framing
        #expect(result("Transfer-Encoding: identity\r\n") == invalid)
        #expect(result("Transfer-Encoding: gzip\r\n") == invalid)  // chunked not final: length unknown
        #expect(result("Transfer-Encoding: chunked, gzip\r\n") == invalid)
        #expect(result("Transfer-Encoding: chunked, chunked\r\n") == invalid)
        #expect(result("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") == invalid)
        #expect(result("Transfer-Encoding: chunked;q=1\r\n") == invalid)
        #expect(result("Transfer-Encoding: xchunked\r\n") == invalid)
        #expect(result("Transfer-Encoding: \r\n") == invalid)
        #expect(result("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n") == invalid)
        let notImplemented = ParsedEvent.error(.transferCodingNotImplemented, status: 501)
        #expect(result("Transfer-Encoding: gzip, chunked\r\n") == notImplemented)
        #expect(result("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") == notImplemented)
        #expect(result("Transfer-Encoding: chunked\r\n") == .complete)
    }
}
