import EventLoop
import Glibc
import Testing
import TestSupport

@testable import HTTPServer

/// The HTTP layer against clients that pipeline without reading, hang up while paused, send
/// unknown methods, HEAD, or trickle a request: bounded memory, exact framing, 501 and 408.
@Suite struct HostileClientServerTests {
    static let request = bytes("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")

    /// A server whose `/big` answers 16 KiB synchronously and counts its calls.
    func withBigResponses(_ calls: Counter, _ body: (HTTPServer) throws -> Void) throws {
        let payload = [UInt8](repeating: 0x62, count: 16 * 1024)
        try withServer(configure: { $0.maxOutputBytes = 32 * 1024 }, routes: { router, _ in
            router.add(.GET, "/big") { _, _, responder in
                calls.increment()
                responder.respond(HTTPResponse(status: 200, body: payload))
            }
        }, body)
    }

    @Test func neverReadingPipelinerStopsBeingReadThenGetsEverythingInOrder() throws {
        let calls = Counter()
        try withBigResponses(calls) { server in
            let client = try RawConnection(port: server.port, receiveBuffer: 8 * 1024)
            #expect(client.send(Array(repeating: Self.request, count: 1000).flatMap { $0 }) == 1000 * Self.request.count)
            sleepMilliseconds(300)
            let paused = calls.count
            sleepMilliseconds(200)
            print("FIGURE: fast handler calls for a never-reading client sending 1000 requests: \(paused) (16 KiB each, bound 32 KiB)")
            #expect(calls.count == paused)  // reading stopped: handlers are not called any more
            #expect(paused < 500)
            // Reading resumes as the client reads: all 1000 arrive, in order, complete.
            var parser = HTTPResponseParser()
            var responses = 0
            var bodyBytes = 0
            while responses < 1000 {
                let chunk = client.read(atLeast: 1)
                if chunk.isEmpty { break }
                parser.append(chunk)
                while let response = try parser.next() {
                    responses += 1
                    bodyBytes += response.body.count
                }
            }
            #expect(responses == 1000)
            #expect(bodyBytes == 1000 * 16 * 1024)
            #expect(calls.count == 1000)
        }
    }

    @Test func hangUpWhilePausedClosesTheConnection() throws {
        let calls = Counter()
        try withBigResponses(calls) { server in
            // Reset: the client closes with unread responses (RST).
            let reset = try RawConnection(port: server.port, receiveBuffer: 8 * 1024)
            reset.send(Array(repeating: Self.request, count: 500).flatMap { $0 })
            // Half-close: FIN while the server is paused on its output.
            let halfClosed = try RawConnection(port: server.port, receiveBuffer: 8 * 1024)
            halfClosed.send(Array(repeating: Self.request, count: 500).flatMap { $0 })
            sleepMilliseconds(200)
            #expect(server.connectionCount == 2)
            let handled = calls.count
            halfClosed.shutdownWrite()
            reset.close()
            let start = MonotonicClock.now()
            while server.connectionCount > 0 && milliseconds(since: start) < 2000 { sleepMilliseconds(10) }
            print("FIGURE: paused connections closed \(milliseconds(since: start)) ms after their clients hung up")
            #expect(server.connectionCount == 0)
            #expect(calls.count == handled)  // nothing more was read from either
        }
    }

    @Test func headGetsGetsHeadWithoutBodyAndFramingHolds() throws {
        try withServer(routes: { router, _ in
            router.add(.GET, "/ok") { _, _, r in r.respond(.text("hello")) }
            router.add(.GET, "/empty") { _, _, r in r.respond(HTTPResponse(status: 204, body: bytes("never sent"))) }
            router.add(.POST, "/only") { _, _, r in r.respond(.text("posted")) }
        }) { server in
            let client = try RawConnection(port: server.port)
            client.send(
                bytes(
                    "HEAD /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
                        + "HEAD /only HTTP/1.1\r\nHost: h\r\n\r\nGET /empty HTTP/1.1\r\nHost: h\r\n\r\n"
                        + "HEAD /nowhere HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
            let (received, closed) = client.readToEnd()
            let notAllowed = #"{"error":{"code":"method_not_allowed","message":"method HEAD not allowed here"}}"#
            let notFound = #"{"error":{"code":"not_found","message":"no route for HEAD /nowhere"}}"#
            let text = "Content-Type: text/plain; charset=utf-8\r\n"
            #expect(
                String(decoding: received, as: UTF8.self)
                    == "HTTP/1.1 200 OK\r\n\(text)Content-Length: 5\r\n\r\n"
                    + "HTTP/1.1 200 OK\r\n\(text)Content-Length: 5\r\n\r\nhello"
                    + "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nAllow: POST\r\n"
                    + "Content-Length: \(notAllowed.utf8.count)\r\n\r\n"
                    + "HTTP/1.1 204 No Content\r\n\r\n"
                    + "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: \(notFound.utf8.count)\r\n\r\n"
                    + "HTTP/1.1 200 OK\r\n\(text)Content-Length: 5\r\nConnection: close\r\n\r\nhello")
            #expect(closed)
        }
    }

    @Test func unknownMethodGets501WithoutEchoAndAClosedLabel() throws {
        let seen = Recorder<String>()
        try withServer(configure: { config in
            config.onResponse = { pattern, method, status, _ in seen.append("\(method) \(pattern) \(status)") }
        }, routes: { router, _ in
            router.add(.GET, "/ok") { _, _, r in r.respond(.text("ok")) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let method = "FROBNICATE" + String(repeating: "Z", count: 190)
            let unknown = try client.send(method: method, path: "/ok", body: bytes("xyz"))
            #expect(unknown.status == 501)
            #expect(unknown.bodyString == #"{"error":{"code":"not_implemented","message":"request method not implemented"}}"#)
            #expect(!unknown.bodyString.contains("FROBNICATE"))
            #expect(unknown.headers.contains { $0.value.contains("FROBNICATE") } == false)
            let ok = try client.send(method: "GET", path: "/ok")  // same connection: framing intact
            #expect(ok.bodyString == "ok")
            #expect(seen.all == ["other unmatched 501", "GET /ok 200"])
        }
    }

    @Test func requestTrickledPastItsDeadlineGets408() throws {
        try withServer(configure: {
            $0.requestTimeout = .milliseconds(300)
            $0.minBodyBytesPerSecond = 0
        }, routes: { router, _ in
            router.add(.POST, "/upload") { _, _, r in r.respond(HTTPResponse(status: 200)) }
        }) { server in
            let client = try RawConnection(port: server.port)
            let start = MonotonicClock.now()
            client.send(bytes("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n"))
            for _ in 0..<16 {  // one byte every 25 ms: progress, but not done in time
                sleepMilliseconds(25)
                if client.send([0x61]) != 1 { break }
            }
            let (received, closed) = client.readToEnd()
            let elapsed = milliseconds(since: start)
            // 408 at 300 ms, then a lingering close of up to 500 ms while the client still trickles.
            print("FIGURE: trickled body answered 408 and closed by \(elapsed) ms (request timeout 300 ms)")
            #expect(elapsed >= 250 && elapsed < 2500)
            #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
            #expect(String(decoding: received, as: UTF8.self).contains("Connection: close\r\n"))
            #expect(String(decoding: received, as: UTF8.self).hasSuffix(#"{"error":{"code":"request_timeout","message":"request not received in time"}}"#))
            #expect(closed)
            client.close()  // the server lingers until the client's EOF
            let start2 = MonotonicClock.now()
            while server.connectionCount > 0 && milliseconds(since: start2) < 1000 { sleepMilliseconds(10) }
            #expect(server.connectionCount == 0)
        }
    }

    @Test func bodyBelowTheMinimumRateGets408AfterTheGracePeriod() throws {
        try withServer(configure: {
            $0.requestTimeout = .seconds(30)
            $0.minBodyBytesPerSecond = 1000
            $0.bodyRateGracePeriod = .milliseconds(200)
        }, routes: { router, _ in
            router.add(.POST, "/upload") { _, _, r in r.respond(HTTPResponse(status: 200)) }
        }) { server in
            let client = try RawConnection(port: server.port)
            let start = MonotonicClock.now()
            client.send(bytes("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10000\r\n\r\n0123456789"))
            let (received, closed) = client.readToEnd()
            let elapsed = milliseconds(since: start)
            print("FIGURE: stalled body answered 408 after \(elapsed) ms (grace 200 ms, 1000 B/s)")
            #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
            #expect(closed)
            #expect(elapsed >= 150 && elapsed < 2000)
        }
    }
}
