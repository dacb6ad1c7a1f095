import Dispatch
import EventLoop
import Testing

@testable import HTTPServer

/// Chunked request bodies over real sockets: a buffered and a streaming route, each followed by
/// another request on the same connection.
@Suite struct HTTPServerChunkedTests {
    /// `body` as chunks of pseudo-random sizes (1 to 3000 bytes), hex sizes, some extensions.
    static func encode(_ body: [UInt8], seed: UInt64) -> [UInt8] {
        var generator = SplitMix(seed: seed)
        var wire: [UInt8] = []
        var start = 0
        while start < body.count {
            let end = min(body.count, start + Int(generator.next() % 3000) + 1)
            let ext = generator.next() % 4 == 0 ? ";n=\(start)" : ""
            wire += Array("\(String(end - start, radix: 16))\(ext)\r\n".utf8) + body[start..<end] + Array("\r\n".utf8)
            start = end
        }
        return wire + Array("0\r\nX-Trailer: done\r\n\r\n".utf8)
    }

    /// Sum of the bytes weighted by position: a body received out of order or with framing left
    /// in it would not match.
    static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var sum: UInt64 = 0
        for (index, byte) in bytes.enumerated() { sum = sum &* 31 &+ UInt64(byte) &+ UInt64(index & 7) }
        return sum
    }

    static func routes(_ router: Router, aborted: Counter = Counter()) {
        router.add(.POST, "/buffered", bodyLimit: 300_000) { request, _, responder in
            responder.respond(.text("\(request.body.count) \(checksum(request.body))"))
        }
        router.add(.POST, "/streamed", bodyLimit: 300_000, streaming: true) { request, _, responder in
            let stream = request.bodyStream!
            DispatchQueue.global().async {
                var body: [UInt8] = []
                var pieces = 0
                while true {
                    switch stream.next() {
                    case .bytes(let bytes):
                        body += bytes
                        pieces += 1
                        continue
                    case .end:
                        responder.respond(.text("\(body.count) \(checksum(body))"))
                    case .aborted:
                        aborted.increment()
                        responder.respond(.text("aborted"))
                    }
                    return
                }
            }
        }
        router.add(.GET, "/next") { _, _, responder in responder.respond(.text("next")) }
    }

    @Test func bufferedAndStreamedChunkedBodiesArriveWholeAndTheConnectionGoesOn() throws {
        try withServer(routes: { router, _ in Self.routes(router) }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 10)
            defer { client.close() }
            let body = (0..<250_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            for (path, seed) in [("/buffered", UInt64(1)), ("/streamed", 2), ("/buffered", 3), ("/streamed", 4)] {
                let wire = Self.encode(body, seed: seed)
                try client.sendRaw(Array("POST \(path) HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
                // Several writes, split inside the framing as often as not.
                var start = 0
                while start < wire.count {
                    let end = min(wire.count, start + 40_961)
                    try client.sendRaw(Array(wire[start..<end]))
                    start = end
                }
                let response = try client.readResponse()
                #expect(response.status == 200, "\(path)")
                #expect(response.bodyString == "\(body.count) \(Self.checksum(body))", "\(path)")
                #expect(!response.closesConnection)
                let next = try client.send(method: "GET", path: "/next")
                #expect(next.bodyString == "next")
            }
            #expect(server.connectionCount == 1)
        }
    }

    @Test func hostileChunkedBodiesGetAClear4xxAndClose() throws {
        let aborted = Counter()
        try withServer(routes: { router, _ in Self.routes(router, aborted: aborted) }) { server in
            let cases: [(String, String, Int, String)] = [
                ("/buffered", "3\r\nabc\n0\r\n\r\n", 400, "invalid_chunked_body"),
                ("/streamed", "3\r\nabc\r\nZZ\r\n", 400, "invalid_chunked_body"),
                ("/buffered", "FFFFFFFFFFFFFFFFF\r\n", 400, "invalid_chunked_body"),
                ("/streamed", "1;" + String(repeating: "e", count: 5000) + "\r\n", 400, "chunk_line_too_long"),
                ("/buffered", "493E1\r\n", 413, "body_too_large"),  // 300,001 bytes
                ("/streamed", "FFFF\r\n" + String(repeating: "a", count: 0xFFFF) + "\r\n" + "40000\r\n", 413, "body_too_large"),
            ]
            for (path, body, status, code) in cases {
                let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 10)
                defer { client.close() }
                try client.sendRaw(Array("POST \(path) HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\(body)".utf8))
                let response = try client.readResponse()
                #expect(response.status == status, "\(path) \(code)")
                #expect(response.bodyString.contains(code), "\(path) \(code)")
                #expect(response.closesConnection)
                #expect(client.waitForClose())
            }
            // Every streamed one was cut off for its handler, which answered nothing more.
            let deadline = MonotonicClock.now() + 2_000_000_000
            while aborted.count < 3 && MonotonicClock.now() < deadline { sleepMilliseconds(5) }
            #expect(aborted.count == 3)
        }
    }
}
