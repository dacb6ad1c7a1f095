import Testing

@testable import HTTPServer

@Suite struct HTTPRequestParserTests {
    let post = "POST /v1/campaigns/42/claims?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"u\":\"abc\"}"

    var postEvents: [ParsedEvent] {
        [
            .head(
                head(
                    .POST, "/v1/campaigns/42/claims?x=1",
                    headers: [("Host", "a"), ("Content-Type", "application/json"), ("Content-Length", "11")],
                    contentLength: 11)),
            .body(bytes("{\"u\":\"abc\"}")),
            .complete,
        ]
    }

    @Test func wholeRequest() {
        #expect(parse([bytes(post)]) == postEvents)
    }

    @Test func everySingleSplitPoint() {
        let all = bytes(post)
        for split in 0...all.count {
            #expect(parse([Array(all[..<split]), Array(all[split...])]) == postEvents, "split at \(split)")
        }
    }

    @Test func byteByByte() {
        #expect(parse(bytes(post).map { [$0] }) == postEvents)
    }

    @Test func everyPairOfSplitPointsOfPipelinedPair() {
        let all = bytes("GET /a HTTP/1.1\r\nHost: h\r\n\r\n" + post)
        let expected = [.head(head(.GET, "/a", headers: [("Host", "h")])), .complete] + postEvents
        for first in stride(from: 0, through: all.count, by: 3) {
            for second in stride(from: first, through: all.count, by: 7) {
                let chunks = [Array(all[..<first]), Array(all[first..<second]), Array(all[second...])]
                #expect(parse(chunks) == expected, "splits \(first) \(second)")
            }
        }
    }

    @Test func pipelinedRequestsInOneChunk() {
        let chunk = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /4 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        #expect(
            parse([bytes(chunk)]) == [
                .head(head(.GET, "/1", headers: [("Host", "h")])), .complete,
                .head(head(.GET, "/2", headers: [("Host", "h")])), .complete,
                .head(head(.POST, "/3", headers: [("Host", "h"), ("Content-Length", "2")], contentLength: 2)),
                .body(bytes("ok")), .complete,
                .head(head(.GET, "/4", headers: [("Host", "h"), ("Connection", "close")], keepAlive: false)), .complete,
            ])
    }

    /// A target equal to the previous request's shares its `String`; a different one (even a
    /// prefix or an extension of it) is its own.
    @Test func repeatedTargetsStayExact() {
        let targets = ["/v1/campaigns/1/claims", "/v1/campaigns/1/claims", "/v1/campaigns/1/claim", "/v1/campaigns/1/claims?x=1",
                       "/v1/campaigns/1/claims", "/v1/campaigns/12/claims", "/v1/campaigns/12/claims"]
        let chunk = targets.map { "GET \($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined()
        #expect(parse([bytes(chunk)]) == targets.flatMap { [.head(head(.GET, $0, headers: [("Host", "h")])), .complete] })
    }

    /// Field lines the one-pass path reads and lines it leaves to the general path (tabs,
    /// obs-text, bare LF, empty and space-only values, a long line) give the same head whole,
    /// at every split point and byte by byte.
    @Test func unusualFieldLinesAtEverySplitPoint() {
        let long = String(repeating: "0123456789", count: 30)
        let request = bytes(
            "GET /u HTTP/1.1\r\nHost:h\r\nX-Tab:\ta\tb\t\r\nX-Space:   c d   \r\nX-Bare: e\nX-Empty:\r\n"
                + "X-Spaces:    \r\nX-Obs: caf\u{e9}\r\nX-Long: \(long)\r\nx-7: !#$%&'*+-.^_`|~\r\n\r\n")
        let expected: [ParsedEvent] = [
            .head(head(.GET, "/u", headers: [
                ("Host", "h"), ("X-Tab", "a\tb"), ("X-Space", "c d"), ("X-Bare", "e"), ("X-Empty", ""),
                ("X-Spaces", ""), ("X-Obs", "caf\u{e9}"), ("X-Long", long), ("x-7", "!#$%&'*+-.^_`|~"),
            ])),
            .complete,
        ]
        #expect(parse([request]) == expected)
        #expect(parse(request.map { [$0] }) == expected)
        for split in 0...request.count {
            #expect(parse([Array(request[..<split]), Array(request[split...])]) == expected, "split at \(split)")
        }
    }

    @Test func bareLineFeedsAndLeadingEmptyLinesAndOtherMethod() {
        #expect(
            parse([bytes("\r\n\nPURGE /x HTTP/1.1\nHost:   h  \n\n")]) == [
                .head(head(.other("PURGE"), "/x", headers: [("Host", "h")])), .complete,
            ])
    }

    /// The blank line after plain field lines ends the head (CRLF or a bare LF, whole or split
    /// between reads); a body made of line ends is body, and a lone CR is no blank line.
    @Test func blankLineAfterPlainFieldsAtEverySplitPoint() {
        for (text, blank) in [("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n", "\r\n"), ("POST /x HTTP/1.1\nHost: h\nContent-Length: 4\n\n", "\n")] {
            let all = bytes(text + "\r\n\r\n")
            let expected: [ParsedEvent] = [.head(head(.POST, "/x", headers: [("Host", "h"), ("Content-Length", "4")], contentLength: 4)),
                                           .body(bytes("\r\n\r\n")), .complete]
            for split in 0...all.count {
                #expect(parse([Array(all[..<split]), Array(all[split...])]) == expected, "blank line \(blank.debugDescription), split at \(split)")
            }
        }
        #expect(parse([bytes("GET / HTTP/1.1\r\nHost: h\r\n\rX: y\r\n\r\n")]) == [.error(.malformedHeader, status: 400)])
    }

    // MARK: Keep-alive

    @Test func keepAliveRules() {
        func keepAlive(_ version: String, _ connection: String?) -> Bool? {
            var text = "GET / \(version)\r\nHost: h\r\n"
            if let connection { text += "Connection: \(connection)\r\n" }
            guard case .head(let head)? = parse([bytes(text + "\r\n")]).first else { return nil }
            return head.keepAlive
        }
        #expect(keepAlive("HTTP/1.1", nil) == true)
        #expect(keepAlive("HTTP/1.1", "close") == false)
        #expect(keepAlive("HTTP/1.1", "Keep-Alive, CLOSE") == false)
        #expect(keepAlive("HTTP/1.1", "keep-alive") == true)
        #expect(keepAlive("HTTP/1.0", nil) == false)
        #expect(keepAlive("HTTP/1.0", "keep-alive") == true)
        #expect(keepAlive("HTTP/1.0", "Keep-Alive") == true)
        #expect(keepAlive("HTTP/1.0", "close") == false)
    }

    @Test func http10WithoutHostIsAccepted() {
        #expect(
            parse([bytes("GET / HTTP/1.0\r\n\r\n")]) == [
                .head(head(.GET, "/", version: .http1_0, headers: [], keepAlive: false)), .complete,
            ])
    }

    // MARK: Limits

    @Test func requestLineLimit() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 100)
        let okTarget = "/" + String(repeating: "a", count: 100 - "GET  HTTP/1.1".count - 1)
        let ok = "GET \(okTarget) HTTP/1.1"
        #expect(ok.utf8.count == 100)
        #expect(parse([bytes(ok + "\r\nHost: h\r\n\r\n")], limits: limits).count == 2)
        let long = "GET \(okTarget)a HTTP/1.1"
        #expect(parse([bytes(long + "\r\nHost: h\r\n\r\n")], limits: limits) == [.error(.requestLineTooLong, status: 414)])
        // Detected before the line ends, byte by byte.
        #expect(parse(bytes(long + "\r\n").map { [$0] }, limits: limits) == [.error(.requestLineTooLong, status: 414)])
    }

    @Test func defaultRequestLineLimitIs8KiB() {
        let target = "/" + String(repeating: "x", count: 8192)
        #expect(parse([bytes("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n")]) == [.error(.requestLineTooLong, status: 414)])
        #expect(parse([bytes("GET \(target)")]) == [.error(.requestLineTooLong, status: 414)])
    }

    @Test func headerBytesLimit() {
        let big = String(repeating: "v", count: 33 * 1024)
        #expect(parse([bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Big: \(big)\r\n\r\n")]) == [.error(.headerFieldsTooLarge, status: 431)])
        // Without ever completing a line.
        #expect(parse([bytes("GET / HTTP/1.1\r\nX-Big: \(big)")]) == [.error(.headerFieldsTooLarge, status: 431)])
        // Many medium headers adding up.
        let medium = (0..<40).map { "X-\($0): \(String(repeating: "m", count: 1000))\r\n" }.joined()
        #expect(parse([bytes("GET / HTTP/1.1\r\nHost: h\r\n\(medium)\r\n")]) == [.error(.headerFieldsTooLarge, status: 431)])
    }

    @Test func headerCountLimit() {
        let hundred = (1..<100).map { "X-\($0): v\r\n" }.joined()
        #expect(parse([bytes("GET / HTTP/1.1\r\nHost: h\r\n\(hundred)\r\n")]).count == 2)
        #expect(
            parse([bytes("GET / HTTP/1.1\r\nHost: h\r\n\(hundred)X-Extra: v\r\n\r\n")]) == [
                .error(.tooManyHeaderFields, status: 431)
            ])
    }

    @Test func bodyLimitGives413BeforeAnyBodyByte() {
        var parser = HTTPRequestParser()
        parser.append(bytes("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10485760\r\n\r\n"))
        guard case .headComplete(let head) = parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.contentLength == 10_485_760)
        #expect(parser.continueWithBodyLimit(65536) == .error(HTTPParserError(.bodyTooLarge)))
        #expect(HTTPParserError(.bodyTooLarge).status == 413)
        #expect(parser.next() == .needMoreData)
        #expect(parse([bytes("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n12345")], bodyLimit: 5).last == .complete)
    }

    // MARK: Framing errors

    @Test func framingErrors() {
        func result(_ headerLines: String, version: String = "HTTP/1.1") -> ParsedEvent? {
            parse([bytes("POST / \(version)\r\n\(headerLines)\r\n")]).last
        }
        #expect(result("Host: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n") == .error(.duplicateContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: 3\r\ncontent-length: 4\r\n") == .error(.duplicateContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: 3, 3\r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: -1\r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: +1\r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: 0x10\r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: \r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Host: h\r\nContent-Length: 9999999999999999999\r\n") == .error(.invalidContentLength, status: 400))
        #expect(result("Content-Length: 0\r\n") == .error(.missingHost, status: 400))
        #expect(result("Host: a\r\nHost: b\r\n") == .error(.duplicateHost, status: 400))
        #expect(result("Host: a\r\nHost: b\r\n", version: "HTTP/1.0") == .error(.duplicateHost, status: 400))
        #expect(result("Host: h\r\n X-Folded: yes\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\nNo-Colon\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\nBad Name: v\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\nName : v\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\n: v\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\nX: a\u{0}b\r\n") == .error(.malformedHeader, status: 400))
        #expect(result("Host: h\r\nX: a\rb\r\n") == .error(.malformedHeader, status: 400))
    }

    @Test func malformedRequestLines() {
        func result(_ line: String) -> ParsedEvent? {
            parse([bytes("\(line)\r\nHost: h\r\n\r\n")]).last
        }
        #expect(result("GET") == .error(.malformedRequestLine, status: 400))
        #expect(result("GET /") == .error(.malformedRequestLine, status: 400))
        #expect(result("GET  / HTTP/1.1") == .error(.malformedRequestLine, status: 400))
        #expect(result("GET / HTTP/1.1 extra") == .error(.malformedRequestLine, status: 400))
        #expect(result("G(T / HTTP/1.1") == .error(.invalidMethod, status: 400))
        #expect(result(" GET / HTTP/1.1") == .error(.invalidMethod, status: 400))
        #expect(result("GET http://x/ HTTP/1.1") == .error(.invalidTarget, status: 400))
        #expect(result("GET /\u{7F} HTTP/1.1") == .error(.invalidTarget, status: 400))
        #expect(result("GET / HTTP/1.x") == .error(.malformedVersion, status: 400))
        #expect(result("GET / http/1.1") == .error(.malformedVersion, status: 400))
        #expect(result("GET / HTTP/2.0") == .error(.unsupportedVersion, status: 505))
        #expect(result("GET / HTTP/2") == .error(.unsupportedVersion, status: 505))
        #expect(result("GET / HTTP/1.2") == .error(.unsupportedVersion, status: 505))
        #expect(result("OPTIONS * HTTP/1.1") == .complete)
    }

    @Test func parserStaysFailedAfterError() {
        var parser = HTTPRequestParser()
        parser.append(bytes("BAD\r\n"))
        #expect(parser.next() == .error(HTTPParserError(.malformedRequestLine)))
        parser.append(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(parser.next() == .needMoreData)
    }

    @Test func phaseReporting() {
        var parser = HTTPRequestParser()
        #expect(parser.isReadingHead == false)
        parser.append(bytes("GE"))
        #expect(parser.next() == .needMoreData)
        #expect(parser.isReadingHead == true)
        parser.append(bytes("T / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"))
        guard case .headComplete = parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(parser.isReadingBody == true)
        #expect(parser.continueWithBodyLimit(10) == nil)
        #expect(parser.next() == .needMoreData)
        parser.append(bytes("ok"))
        #expect(parser.next() == .body(bytes("ok")[...]))
        #expect(parser.next() == .requestComplete)
        #expect(parser.isReadingHead == false)
        #expect(parser.isReadingBody == false)
        #expect(parser.next() == .needMoreData)
    }
}
