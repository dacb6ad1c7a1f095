import Testing

@testable import HTTPServer

/// The parser copies a head into the previous head's storage once that head's request is gone
/// (no allocation per request, issue 15); a request still held must keep its own bytes.
@Suite struct HeadStorageReuseTests {
    // Same lengths and field positions, different bytes: a reuse in place would show at once.
    private let first = "POST /a HTTP/1.1\r\nHost: one\r\nX-Token: aaaaaaaa\r\nContent-Length: 2\r\n\r\n{}"
    private let second = "POST /b HTTP/1.1\r\nHost: two\r\nX-Token: bbbbbbbb\r\nContent-Length: 2\r\n\r\n[]"
    private let third = "GET /c HTTP/1.1\r\nHost: three\r\nX-Token: c\r\n\r\n"

    private let firstFields = [("Host", "one"), ("X-Token", "aaaaaaaa"), ("Content-Length", "2")]
    private let secondFields = [("Host", "two"), ("X-Token", "bbbbbbbb"), ("Content-Length", "2")]
    private let thirdFields = [("Host", "three"), ("X-Token", "c")]

    /// Appends one whole request, reads it to its end and returns its head.
    private func request(_ text: String, into parser: inout HTTPRequestParser) -> HTTPRequestHead? {
        parser.append(Array(text.utf8))
        var head: HTTPRequestHead?
        while true {
            switch parser.next() {
            case .headComplete(let parsed):
                head = parsed
                if parser.continueWithBodyLimit(1024) != nil { return nil }
            case .body: continue
            case .requestComplete: return head
            default: return nil
            }
        }
    }

    /// Where a head's bytes live (its `RawHeaderFields` storage).
    private func storageAddress(_ head: HTTPRequestHead?) -> UInt? {
        head?.headers.raw?.withHeadBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test func heldRequestsKeepTheirHeaders() {
        var parser = HTTPRequestParser()
        let held = request(first, into: &parser)
        var alsoHeld = request(second, into: &parser)
        let last = request(third, into: &parser)
        #expect(held?.headers == HTTPHeaders(firstFields))
        #expect(held?.headers["x-token"] == "aaaaaaaa")
        #expect(alsoHeld?.headers == HTTPHeaders(secondFields))
        #expect(last?.headers == HTTPHeaders(thirdFields))
        #expect(Set([storageAddress(held), storageAddress(alsoHeld), storageAddress(last)]).count == 3)

        // A handler changing its copy touches neither the parser's storage nor other requests.
        alsoHeld?.headers["X-Token"] = "changed"
        let next = request(first, into: &parser)
        #expect(alsoHeld?.headers["x-token"] == "changed")
        #expect(held?.headers == HTTPHeaders(firstFields))
        #expect(last?.headers == HTTPHeaders(thirdFields))
        #expect(next?.headers == HTTPHeaders(firstFields))
    }

    @Test func storageIsReusedOnceTheRequestIsGone() {
        var parser = HTTPRequestParser()
        let firstAddress = storageAddress(request(first, into: &parser))
        // The parser holds it (so no allocation can be handed the same address meanwhile).
        #expect(parser.headStorage.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == firstAddress)
        let second = request(second, into: &parser)
        #expect(firstAddress != nil)
        #expect(storageAddress(second) == firstAddress)
        #expect(second?.headers == HTTPHeaders(secondFields))
        #expect(second?.target == "/b")

        // While `second` is held the next head gets storage of its own, then that one is reused.
        let thirdAddress = storageAddress(request(third, into: &parser))
        #expect(thirdAddress != firstAddress)
        #expect(second?.headers == HTTPHeaders(secondFields))
        let again = request(first, into: &parser)
        #expect(storageAddress(again) == thirdAddress)
        #expect(again?.headers == HTTPHeaders(firstFields))
        #expect(second?.headers == HTTPHeaders(secondFields))
    }

    @Test func largerHeadIsCopiedIntoLargerStorage() {
        var parser = HTTPRequestParser()
        _ = request(third, into: &parser)
        let long = String(repeating: "v", count: 500)
        let larger = request("GET /d HTTP/1.1\r\nHost: h\r\nX-Long: \(long)\r\n\r\n", into: &parser)
        #expect(larger?.headers == HTTPHeaders([("Host", "h"), ("X-Long", long)]))
    }

    @Test func largeHeadStorageIsNotKept() {
        var parser = HTTPRequestParser()
        _ = request(first, into: &parser)
        #expect(parser.headStorage.capacity > 0)
        let long = String(repeating: "v", count: HTTPRequestParser.reusedHeadStorageLimit)
        let large = request("GET /d HTTP/1.1\r\nHost: h\r\nX-Long: \(long)\r\n\r\n", into: &parser)
        #expect(large?.headers["x-long"] == long)
        #expect(parser.headStorage.capacity == 0)
        _ = request(first, into: &parser)
        #expect(parser.headStorage.capacity > 0)
    }
}
