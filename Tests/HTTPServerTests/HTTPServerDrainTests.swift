import Dispatch
import EventLoop
import Foundation
import Testing

@testable import HTTPServer

/// `HTTPServer.drain` (graceful stop, issue 10 §3): listeners close at once; requests already read
/// (pipelined, answered late) are all answered, the last with `Connection: close`; an idle
/// keep-alive connection is closed; new connections are refused.
@Suite struct HTTPServerDrainTests {
    @Test func drainAnswersWhatWasReadThenCloses() throws {
        try withServer(routes: { router, group in
            router.add(.GET, "/slow/{n}") { _, parameters, responder in
                let n = parameters["n"]!
                currentLoop(group).schedule(afterMilliseconds: 300) { responder.respond(.text("r\(n)")) }
            }
            router.add(.GET, "/fast") { _, _, responder in responder.respond(.text("ok")) }
        }) { server in
            let idle = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            defer { idle.close() }
            #expect(try idle.send(method: "GET", path: "/fast").bodyString == "ok")
            let busy = BlockingHTTPClient(port: server.port, timeoutSeconds: 3)
            defer { busy.close() }
            try busy.sendRaw(bytes((1...3).map { "GET /slow/\($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined()))
            Thread.sleep(forTimeInterval: 0.1)  // read by the server, handlers still working

            let answered = Recorder<Bool>()
            let done = DispatchSemaphore(value: 0)
            Thread {
                answered.append(server.drain(timeoutSeconds: 5))
                done.signal()
            }.start()
            Thread.sleep(forTimeInterval: 0.05)
            #expect(!TestPortProbe.accepts(port: server.port), "no new connections while draining")
            #expect(idle.waitForClose(), "the idle keep-alive connection is closed")

            let responses = try (1...3).map { _ in try busy.readResponse() }
            #expect(responses.map(\.bodyString) == ["r1", "r2", "r3"])
            #expect(responses.map { $0.headers["connection"] } == [nil, nil, "close"])
            #expect(busy.waitForClose())
            #expect(done.wait(timeout: .now() + 5) == .success)
            #expect(answered.all == [true])
            #expect(server.connectionCount == 0)
        }
    }
}

/// Whether something accepts TCP connections on a loopback port.
enum TestPortProbe {
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
