import Testing

@testable import HTTPServer

/// Headers kept as spans of the head's bytes (issue 15): the same fields whatever the split,
/// including when the parser compacts its buffer in the middle of a head.
@Suite struct RawHeaderTests {
    private let first = "POST /v1/campaigns/7/claims HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    private let second = "GET /x HTTP/1.1\r\nhost: b\r\nX-Long: \(String(repeating: "v", count: 3000))\r\nconnection: keep-alive, close\r\n\r\n"

    private func heads(_ chunkSize: Int) -> [HTTPRequestHead] {
        let bytes = Array((first + second).utf8)
        let chunks = stride(from: 0, to: bytes.count, by: chunkSize).map { Array(bytes[$0..<min($0 + chunkSize, bytes.count)]) }
        return parse(chunks).compactMap { if case .head(let head) = $0 { return head } else { return nil } }
    }

    @Test(arguments: [1, 7, 64, 1000, 100_000])
    func fieldsSurviveAnySplit(_ chunkSize: Int) {
        let parsed = heads(chunkSize)
        #expect(parsed.count == 2)
        guard parsed.count == 2 else { return }
        #expect(parsed[0].headers["authorization"] == "Bearer k1")
        #expect(parsed[0].headers["CONTENT-TYPE"] == "application/json")
        #expect(parsed[0].headers.contains(name: "host"))
        #expect(parsed[0].headers["x-missing"] == nil)
        #expect(parsed[0].contentLength == 2)
        #expect(parsed[0].keepAlive)
        #expect(parsed[1].headers["X-LONG"] == String(repeating: "v", count: 3000))
        #expect(parsed[1].keepAlive == false)
        #expect(Array(parsed[1].headers).map(\.name) == ["host", "X-Long", "connection"])
        #expect(parsed[1].headers.values(for: "Host") == ["b"])
    }

    @Test func mutationAndEqualityWorkOnParsedHeaders() {
        let parsed = heads(100_000)
        guard var headers = parsed.first?.headers else {
            Issue.record("no head")
            return
        }
        #expect(headers == HTTPHeaders([("Host", "a"), ("Authorization", "Bearer k1"), ("Content-Type", "application/json"), ("Content-Length", "2")]))
        headers.add(name: "X-Extra", value: "1")
        headers["host"] = "c"
        #expect(headers.count == 5)
        #expect(headers["Host"] == "c")
        #expect(Array(headers).map(\.name) == ["Authorization", "Content-Type", "Content-Length", "X-Extra", "host"])
    }

    @Test func valueBytesWithoutAString() {
        guard var headers = heads(64).first?.headers else { return #expect(Bool(false)) }
        func bytes(_ name: String) -> [UInt8]? { headers.withFirstValueBytes(for: name) { $0.map(Array.init) } }
        #expect(bytes("AUTHORIZATION") == Array("Bearer k1".utf8))  // spans of the head
        #expect(bytes("x-missing") == nil)
        headers.add(name: "X-Added", value: "v")  // materialized fields
        #expect(bytes("authorization") == Array("Bearer k1".utf8))
        #expect(bytes("x-added") == Array("v".utf8))
    }
}
