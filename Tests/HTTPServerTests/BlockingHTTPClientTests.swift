import Glibc
import Testing

@testable import HTTPServer

/// `BlockingHTTPClient` reaches a server by name as well as by address (webhook endpoints are
/// usually names: a Kubernetes service, an internal relay).
@Suite struct BlockingHTTPClientTests {
    @Test func aHostNameIsResolvedAndTheConnectionKeptAlive() throws {
        try withServer(routes: { router, _ in
            router.add(.POST, "/hook") { request, _, responder in responder.respond(.text(status: 200, "got \(request.body.count)")) }
        }) { server in
            let client = BlockingHTTPClient(host: "localhost", port: server.port, timeoutSeconds: 5)
            defer { client.close() }
            for _ in 0..<3 {
                let response = try client.send(method: "POST", path: "/hook", body: Array("hello".utf8))
                #expect(response.status == 200)
                #expect(response.bodyString == "got 5")
            }
            #expect(server.connectionCount == 1)
        }
    }

    @Test func anUnknownNameOrAClosedPortIsAConnectFailure() throws {
        let unknown = BlockingHTTPClient(host: "no-such-host.invalid", port: 80, timeoutSeconds: 2)
        #expect(throws: HTTPClientError.connectFailed(errno: EHOSTUNREACH)) { try unknown.send(method: "GET", path: "/") }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)  // bound, never listening: the port refuses
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        let refused = BlockingHTTPClient(host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port)), timeoutSeconds: 2)
        #expect(throws: HTTPClientError.connectFailed(errno: ECONNREFUSED)) { try refused.send(method: "GET", path: "/") }
    }
}
