import Dispatch
import EventLoop
import Testing

@testable import HTTPServer

@Suite struct HTTPServerTests {
    @Test func routesParametersQueryAndKeepAlive() throws {
        try withServer(routes: { router, _ in
            router.add(.POST, "/v1/campaigns/{id}/claims") { request, parameters, responder in
                let text = "\(parameters["id"]!)|\(request.query["user"] ?? "-")|\(request.bodyString)|\(request.headers["x-tag"] ?? "-")"
                responder.respond(.json(status: 201, body: bytes(text)))
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let first = try client.send(
                method: "POST", path: "/v1/campaigns/c%201/claims?user=u%2B1", headers: [("X-Tag", "t")], body: bytes("{}"))
            #expect(first.status == 201)
            #expect(first.bodyString == "c 1|u+1|{}|t")
            #expect(first.headers["content-type"] == "application/json")
            #expect(first.headers["content-length"] == "12")
            #expect(first.headers["connection"] == nil)
            let second = try client.send(method: "POST", path: "/v1/campaigns/2/claims", body: [])
            #expect(second.bodyString == "2|-||-")
            #expect(server.connectionCount == 1)
        }
    }

    @Test func notFoundAndMethodNotAllowed() throws {
        try withServer(routes: { router, _ in
            router.add(.GET, "/v1/campaigns/{id}") { _, _, r in r.respond(HTTPResponse(status: 200)) }
            router.add(.PATCH, "/v1/campaigns/{id}") { _, _, r in r.respond(HTTPResponse(status: 200)) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let missing = try client.send(method: "GET", path: "/nope?x=1")
            #expect(missing.status == 404)
            #expect(missing.bodyString == #"{"error":{"code":"not_found","message":"no route for GET /nope"}}"#)
            let wrong = try client.send(method: "DELETE", path: "/v1/campaigns/1")
            #expect(wrong.status == 405)
            #expect(wrong.headers["allow"] == "GET, HEAD, PATCH")
            #expect(wrong.bodyString == #"{"error":{"code":"method_not_allowed","message":"method DELETE not allowed here"}}"#)
            let result1 = try client.send(method: "GET", path: "/v1/campaigns/1")
            #expect(result1.status == 200)
        }
    }

    @Test func pipelinedResponsesKeepRequestOrder() throws {
        try withServer(routes: { router, group in
            router.add(.GET, "/p/{n}") { request, parameters, responder in
                let n = parameters["n"]!
                let response = HTTPResponse.text("r\(n)")
                switch n {
                case "1":  // answered last, on the loop, later
                    currentLoop(group).schedule(afterMilliseconds: 150) { responder.respond(response) }
                case "2":  // answered from another thread
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { responder.respond(response) }
                default:
                    responder.respond(response)
                }
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            defer { client.close() }
            try client.sendRaw(bytes((1...3).map { "GET /p/\($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined()))
            let bodies = try (1...3).map { _ in try client.readResponse().bodyString }
            #expect(bodies == ["r1", "r2", "r3"])
        }
    }

    @Test func backpressureAtPipelineLimitStillAnswersEverythingInOrder() throws {
        let started = Counter()
        try withServer(configure: { $0.maxPipelinedRequests = 2 }, routes: { router, group in
            router.add(.GET, "/s/{n}") { _, parameters, responder in
                started.increment()
                let n = Int(parameters["n"]!)!
                currentLoop(group).schedule(afterMilliseconds: (10 - n) * 5) { responder.respond(.text("\(n)")) }
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            defer { client.close() }
            try client.sendRaw(bytes((0..<10).map { "GET /s/\($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined()))
            let bodies = try (0..<10).map { _ in try client.readResponse().bodyString }
            #expect(bodies == (0..<10).map(String.init))
            #expect(started.count == 10)
        }
    }

    @Test func secondRespondIsIgnored() throws {
        try withServer(routes: { router, _ in
            router.add(.GET, "/twice") { _, _, responder in
                responder.respond(.text("first"))
                responder.respond(.text("second"))
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let result2 = try client.send(method: "GET", path: "/twice")
            #expect(result2.bodyString == "first")
            let result3 = try client.send(method: "GET", path: "/twice")
            #expect(result3.bodyString == "first")
        }
    }

    @Test func oversizedBodyGets413WithoutBeingRead() throws {
        let calls = Counter()
        try withServer(routes: { router, _ in
            router.add(.POST, "/upload", bodyLimit: 1024) { _, _, responder in
                calls.increment()
                responder.respond(HTTPResponse(status: 200))
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            try client.sendRaw(bytes("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10485760\r\n\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.closesConnection)
            #expect(response.bodyString == #"{"error":{"code":"body_too_large","message":"request body too large"}}"#)
            #expect(calls.count == 0)
            #expect(client.isConnected == false)
            let result4 = try client.send(method: "POST", path: "/upload", body: [UInt8](repeating: 1, count: 1024))
            #expect(result4.status == 200)
        }
    }

    @Test func bodyCutShortNeverReachesTheHandler() throws {
        let calls = Counter()
        try withServer(routes: { router, _ in
            router.add(.POST, "/claim") { _, _, responder in
                calls.increment()
                responder.respond(HTTPResponse(status: 200))
            }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            try client.sendRaw(bytes("POST /claim HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789"))
            sleepMilliseconds(50)
            client.close()
            sleepMilliseconds(100)
            #expect(calls.count == 0)
            #expect(server.connectionCount == 0)
        }
    }

    @Test func headerReadTimeoutClosesTheConnection() throws {
        try withServer(configure: {
            $0.headerReadTimeout = .milliseconds(200)
            $0.idleTimeout = .seconds(30)
        }, routes: { _, _ in }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            let start = MonotonicClock.now()
            try client.sendRaw(bytes("GET / HTTP/1.1\r\nHost: h\r\n"))
            sleepMilliseconds(100)
            try client.sendRaw(bytes("X-Slow: 1\r\n"))  // progress does not extend the head deadline
            #expect(client.waitForClose())
            let elapsed = milliseconds(since: start)
            #expect(elapsed >= 190 && elapsed < 1500, "closed after \(elapsed) ms")
        }
    }

    @Test func idleTimeoutClosesTheConnection() throws {
        try withServer(configure: {
            $0.idleTimeout = .milliseconds(200)
        }, routes: { router, _ in
            router.add(.GET, "/ok") { _, _, r in r.respond(HTTPResponse(status: 204)) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            let result5 = try client.send(method: "GET", path: "/ok")
            #expect(result5.status == 204)
            let start = MonotonicClock.now()
            #expect(client.waitForClose())
            let elapsed = milliseconds(since: start)
            #expect(elapsed >= 150 && elapsed < 1500, "closed after \(elapsed) ms")
            // The client reconnects lazily.
            let result6 = try client.send(method: "GET", path: "/ok")
            #expect(result6.status == 204)
            client.close()
        }
    }

    /// A connection's idle timer holds it strongly (no weak reference, so no side table on the
    /// claim path): once its client has gone, the connection must still be released — long
    /// before the 60 s idle deadline its timer was armed for.
    @Test func aClosedConnectionIsReleasedThoughItsIdleTimerHeldIt() throws {
        let seen = Recorder<WeakConnection>()
        try withServer(configure: {
            $0.idleTimeout = .seconds(60)
        }, routes: { router, _ in
            router.add(.GET, "/ok") { _, _, responder in
                seen.append(WeakConnection(responder.connection))
                responder.respond(HTTPResponse(status: 204))
            }
        }) { server in
            for _ in 0..<10 {
                let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
                let response = try client.send(method: "GET", path: "/ok")
                #expect(response.status == 204)
                client.close()
            }
            let start = MonotonicClock.now()
            while seen.all.contains(where: { $0.connection != nil }) && milliseconds(since: start) < 3000 { sleepMilliseconds(10) }
            #expect(seen.all.count == 10)
            #expect(seen.all.allSatisfy { $0.connection == nil }, "closed connections still alive")
        }
    }

    @Test func clientRetriesOnceOnAConnectionTheServerClosed() throws {
        try withServer(configure: { $0.idleTimeout = .milliseconds(100) }, routes: { router, _ in
            router.add(.GET, "/ok") { _, _, r in r.respond(.text("ok")) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let first = try client.send(method: "GET", path: "/ok")
            #expect(first.bodyString == "ok")
            sleepMilliseconds(300)  // the server closes the idle connection; the client has not noticed
            #expect(client.isConnected)
            let second = try client.send(method: "GET", path: "/ok")
            #expect(second.bodyString == "ok")
        }
    }

    @Test func manyClientsOnManyThreads() throws {
        let calls = Counter()
        try withServer(routes: { router, _ in
            router.add(.POST, "/echo/{n}") { request, parameters, r in
                calls.increment()
                r.respond(.json(body: bytes("\(parameters["n"]!):") + request.body))
            }
        }) { server in
            let failures = Counter()
            DispatchQueue.concurrentPerform(iterations: 4) { thread in
                let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
                defer { client.close() }
                for index in 0..<300 {
                    let response = try? client.send(method: "POST", path: "/echo/\(thread)", body: bytes("\(index)"))
                    if response?.bodyString != "\(thread):\(index)" { failures.increment() }
                }
            }
            #expect(failures.count == 0)
            #expect(calls.count == 1200)
        }
    }

    @Test func refusedBodyStillArrivingDoesNotLoseThe413() throws {
        try withServer(routes: { router, _ in
            router.add(.POST, "/small", bodyLimit: 16) { _, _, r in r.respond(HTTPResponse(status: 200)) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            // Head and 256 KiB of body in one write: the body is unread when the server closes.
            try client.sendRaw(
                bytes("POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 262144\r\n\r\n") + [UInt8](repeating: 0x61, count: 262_144))
            let response = try client.readResponse()
            #expect(response.status == 413)
        }
    }

    @Test func largeResponseIsWrittenCompletely() throws {
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try withServer(routes: { router, _ in
            router.add(.GET, "/big") { _, _, r in r.respond(HTTPResponse(status: 200, body: payload)) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            defer { client.close() }
            // Two pipelined 1 MiB responses, read only after a pause: the server meets a full socket buffer.
            try client.sendRaw(bytes("GET /big HTTP/1.1\r\nHost: h\r\n\r\nGET /big HTTP/1.1\r\nHost: h\r\n\r\n"))
            sleepMilliseconds(100)
            let first = try client.readResponse()
            let second = try client.readResponse()
            #expect(first.body.count == 1 << 20)
            #expect(first.body == payload)
            #expect(second.body == payload)
        }
    }

    @Test func malformedInputGets400AndClose() throws {
        try withServer(routes: { _, _ in }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            try client.sendRaw(bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"))
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.closesConnection)
            #expect(
                response.bodyString
                    == #"{"error":{"code":"content_length_with_transfer_encoding","message":"Content-Length and Transfer-Encoding together"}}"#)
            try client.sendRaw(bytes("GET / HTTP/1.1\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n"))
            let result7 = try client.readResponse()
            #expect(result7.status == 431)
            try client.sendRaw(bytes("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: h\r\n\r\n"))
            let result8 = try client.readResponse()
            #expect(result8.status == 414)
        }
    }

    @Test func connectionCloseAndHTTP10() throws {
        try withServer(routes: { router, _ in
            router.add(.GET, "/ok") { _, _, r in r.respond(.text("ok")) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            let closing = try client.send(method: "GET", path: "/ok", headers: [("Connection", "close")])
            #expect(closing.headers["connection"] == "close")
            #expect(client.isConnected == false)
            try client.sendRaw(bytes("GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
            let kept = try client.readResponse()
            #expect(kept.headers["connection"] == "keep-alive")
            try client.sendRaw(bytes("GET /ok HTTP/1.0\r\n\r\nGET /ok HTTP/1.0\r\n\r\n"))
            let result9 = try client.readResponse()
            #expect(result9.headers["connection"] == "close")
            #expect(client.isConnected == false)  // the second pipelined request was never answered
        }
    }

    @Test func onResponseObservesRouteMethodAndStatus() throws {
        let seen = Recorder<String>()
        try withServer(configure: { config in
            config.onResponse = { pattern, method, status, _ in seen.append("\(method) \(pattern) \(status)") }
        }, routes: { router, _ in
            router.add(.GET, "/v1/things/{id}") { _, _, r in r.respond(HTTPResponse(status: 200)) }
        }) { server in
            let client = BlockingHTTPClient(port: server.port, timeoutSeconds: 2)
            defer { client.close() }
            _ = try client.send(method: "GET", path: "/v1/things/7")
            _ = try client.send(method: "GET", path: "/missing")
            _ = try client.send(method: "PUT", path: "/v1/things/7")
            #expect(seen.all == ["GET /v1/things/{id} 200", "GET unmatched 404", "PUT unmatched 405"])
        }
    }

    @Test func stopClosesConnectionsAndListeners() throws {
        let group = try EventLoopGroup(count: 2, namePrefix: "http-stop")
        defer { group.shutdown() }
        let router = Router()
        router.add(.GET, "/ok") { _, _, r in r.respond(HTTPResponse(status: 204)) }
        let server = HTTPServer(group: group, configuration: HTTPServerConfiguration(port: 0), router: router)
        try server.start()
        #expect(server.port > 0)
        let clients = (0..<4).map { _ in BlockingHTTPClient(port: server.port, timeoutSeconds: 2) }
        for client in clients {
            let response = try client.send(method: "GET", path: "/ok")
            #expect(response.status == 204)
        }
        #expect(server.connectionCount == 4)
        server.stop()
        for client in clients { #expect(client.waitForClose()) }
        #expect(throws: HTTPClientError.self) { try clients[0].send(method: "GET", path: "/ok") }
    }
}
