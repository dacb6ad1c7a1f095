import EventLoop
import Testing

@testable import HTTPServer

/// The connection state machine driven without sockets: a scripted peer (input chunks, how
/// many bytes it accepts) and a mock clock (plain nanoseconds).
@Suite struct HTTPConnectionMachineTests {
    static let ms: UInt64 = 1_000_000

    /// What the peer sees and what the machine asked for.
    struct Peer {
        var machine: HTTPConnectionMachine
        /// Chunks the socket will return, in order.
        var input: [[UInt8]] = []
        var eof = false
        /// Bytes the peer still accepts (nil: unlimited).
        var window: Int?
        var written: [UInt8] = []
        var dispatched: [(pattern: String, head: HTTPRequestHead, body: [UInt8], sequence: UInt64)] = []
        var delivered: [(sequence: UInt64, bytes: [UInt8])] = []
        var ended: [(sequence: UInt64, complete: Bool)] = []
        var shutDown = false
        var closed = false
        var resumeScheduled = false
        var reads = 0
        var interest: IOInterest = []
        var timer: UInt64?

        init(_ configuration: HTTPConnectionMachine.Configuration = HTTPConnectionMachineTests.configuration()) {
            machine = HTTPConnectionMachine(configuration: configuration, router: HTTPConnectionMachineTests.router)
        }

        var text: String { String(decoding: written, as: UTF8.self) }

        /// Takes what was written so far.
        mutating func take() -> String {
            defer { written = [] }
            return text
        }

        mutating func send(_ text: String, now: UInt64 = 0) {
            input.append(Array(text.utf8))
            readable(now: now)
        }

        mutating func readable(now: UInt64 = 0) {
            if !machine.socketReadable() { return }
            run(now: now)
        }

        mutating func respond(_ sequence: UInt64, _ status: Int = 200, body: String = "ok", now: UInt64 = 0) {
            machine.complete(sequence, HTTPResponse(status: status, body: Array(body.utf8)), now: now)
            machine.startTurn()
            run(now: now)
        }

        mutating func writable(window: Int?, now: UInt64 = 0) {
            self.window = window
            machine.socketWritable()
            run(now: now)
        }

        mutating func run(now: UInt64) {
            while !closed {
                switch machine.next(now: now) {
                case .read:
                    reads += 1
                    if !input.isEmpty {
                        let chunk = input.removeFirst()
                        chunk.withUnsafeBytes { machine.received($0, filledBuffer: !input.isEmpty) }
                    } else if eof {
                        machine.receivedEOF()
                    } else {
                        machine.readWouldBlock()
                    }
                case .write:
                    let accepted = machine.output.gather(maxChunks: 64) { vectors -> [UInt8] in
                        var bytes: [UInt8] = []
                        for vector in vectors {
                            bytes += UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len)
                        }
                        return Array(bytes.prefix(window ?? bytes.count))
                    }
                    if accepted.isEmpty {
                        machine.writeWouldBlock()
                    } else {
                        written += accepted
                        if let window { self.window = window - accepted.count }
                        machine.wrote(accepted.count)
                    }
                case .dispatch(let route, let head, let body, _, let sequence):
                    dispatched.append((route.pattern, head, body, sequence))
                case .dispatchStreaming(let route, let head, _, let sequence):
                    dispatched.append((route.pattern, head, [], sequence))
                case .deliverBody(let bytes, let sequence):
                    delivered.append((sequence, bytes))
                case .endBody(let sequence, let complete):
                    ended.append((sequence, complete))
                case .shutdownWrite:
                    shutDown = true
                case .scheduleResume:
                    resumeScheduled = true
                case .wait(let interest, let timer):
                    self.interest = interest
                    self.timer = timer
                    return
                case .close:
                    closed = true
                }
            }
        }
    }

    static let router: Router = {
        let router = Router()
        router.add(.POST, "/claims", bodyLimit: 16) { _, _, responder in responder.respond(HTTPResponse(status: 500)) }
        router.add(.GET, "/items/{id}") { _, _, responder in responder.respond(HTTPResponse(status: 500)) }
        router.add(.POST, "/uploads", bodyLimit: 1000, streaming: true) { _, _, responder in responder.respond(HTTPResponse(status: 500)) }
        return router
    }()

    /// Header 100 ms, request 300 ms, idle 1000 ms, body ≥ 1000 B/s after 50 ms.
    static func configuration(
        pipelined: Int = 64, maxOutputBytes: Int = 1 << 20, perTurn: Int = 16
    ) -> HTTPConnectionMachine.Configuration {
        HTTPConnectionMachine.Configuration(
            timeouts: .init(
                headerTimeout: 100 * ms, requestTimeout: 300 * ms, idleTimeout: 1000 * ms,
                minBodyBytesPerSecond: 1000, bodyRateGrace: 50 * ms),
            maxPipelinedRequests: pipelined, maxOutputBytes: maxOutputBytes, requestsPerTurn: perTurn)
    }

    static func get(_ id: Int, close: Bool = false) -> String {
        "GET /items/\(id) HTTP/1.1\r\nHost: x\r\n\(close ? "Connection: close\r\n" : "")\r\n"
    }

    static let ok2 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    @Test func pipelinedResponsesLeaveInRequestOrder() {
        var peer = Peer()
        peer.send(Self.get(1) + Self.get(2) + Self.get(3))
        #expect(peer.dispatched.map(\.head.target) == ["/items/1", "/items/2", "/items/3"])
        #expect(peer.dispatched.map(\.sequence) == [0, 1, 2])
        peer.respond(2, body: "c3")
        peer.respond(1, body: "b2")
        #expect(peer.text == "")  // the first is still owed
        peer.respond(0, body: "a1")
        #expect(
            peer.take() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na1" + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nb2"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nc3")
        #expect(peer.interest == .read)
        #expect(peer.timer == 1000 * Self.ms)  // idle keep-alive deadline
        #expect(!peer.closed && !peer.shutDown)
    }

    /// Graceful drain (issue 10 §3): requests already read are answered, the newest with
    /// `Connection: close`, nothing more is read, then the connection shuts down; an idle one
    /// shuts down at once.
    @Test func drainAnswersWhatWasReadThenEnds() {
        var peer = Peer()
        peer.send(Self.get(1) + Self.get(2))
        #expect(peer.machine.unansweredCount == 2)
        peer.machine.drain()
        peer.send(Self.get(3))  // arrives after the drain: never read
        #expect(peer.dispatched.map(\.head.target) == ["/items/1", "/items/2"])
        peer.respond(0, body: "a1")
        #expect(peer.machine.unansweredCount == 1)
        peer.respond(1, body: "b2")
        #expect(peer.machine.unansweredCount == 0)
        #expect(
            peer.take() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na1"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nb2")
        #expect(peer.shutDown)

        var idle = Peer()
        idle.send(Self.get(1))
        idle.respond(0)
        #expect(idle.take() == Self.ok2)
        idle.machine.drain()
        idle.run(now: 0)
        #expect(idle.shutDown)
        #expect(idle.machine.unansweredCount == 0)
    }

    @Test func requestSplitAcrossReadsAndBodyDelivered() {
        var peer = Peer()
        peer.send("POST /claims HTTP/1.1\r\nHo")
        #expect(peer.dispatched.isEmpty)
        peer.send("st: x\r\nContent-Length: 5\r\n\r\nab")
        #expect(peer.dispatched.isEmpty)
        peer.send("cde")
        #expect(peer.dispatched.count == 1)
        #expect(peer.dispatched.first?.body == Array("abcde".utf8))
        #expect(peer.dispatched.first?.pattern == "/claims")
    }

    @Test func connectionCloseShutsDownDrainsThenCloses() {
        var peer = Peer()
        peer.send(Self.get(1, close: true) + Self.get(2))  // the second is never read
        #expect(peer.dispatched.count == 1)
        peer.respond(0, now: 10 * Self.ms)
        #expect(peer.take() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        #expect(peer.shutDown && !peer.closed)
        #expect(peer.machine.isDraining)
        #expect(peer.interest == .read && peer.timer == 510 * Self.ms)  // linger 500 ms
        peer.send("more junk")  // discarded
        #expect(peer.dispatched.count == 1 && !peer.closed)
        peer.eof = true
        peer.readable()
        #expect(peer.closed)
    }

    @Test func lingeringEndsAtItsDeadline() {
        var peer = Peer()
        peer.send("BAD\r\n\r\n")
        #expect(peer.take().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(peer.shutDown)
        peer.machine.timerFired(now: 499 * Self.ms)
        peer.run(now: 499 * Self.ms)
        #expect(!peer.closed)
        peer.machine.timerFired(now: 500 * Self.ms)
        peer.run(now: 500 * Self.ms)
        #expect(peer.closed)
    }

    @Test func headerTimeoutAnswers408AndIdleTimeoutJustCloses() {
        var peer = Peer()
        peer.send("GET /items/1 HTTP/1.1\r\n", now: 20 * Self.ms)
        #expect(peer.timer == 120 * Self.ms)
        peer.machine.timerFired(now: 120 * Self.ms)
        peer.run(now: 120 * Self.ms)
        #expect(peer.take().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(peer.shutDown)

        var idle = Peer()
        idle.run(now: 0)
        #expect(idle.timer == 1000 * Self.ms)
        idle.machine.timerFired(now: 1000 * Self.ms)
        idle.run(now: 1000 * Self.ms)
        #expect(idle.closed && idle.written.isEmpty)
    }

    @Test func slowBodyGets408() {
        var peer = Peer()
        peer.send("POST /claims HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", now: 0)
        // 2 bytes at 1000 B/s earn 2 ms, so the 50 ms grace decides.
        #expect(peer.timer == 50 * Self.ms)
        peer.machine.timerFired(now: 50 * Self.ms)
        peer.run(now: 50 * Self.ms)
        #expect(peer.take().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(peer.dispatched.isEmpty)
    }

    @Test func awaitingAHandlerHasNoDeadline() {
        var peer = Peer()
        peer.send(Self.get(1), now: 0)
        #expect(peer.dispatched.count == 1)
        peer.machine.timerFired(now: 5_000 * Self.ms)  // a stale timer: the handler is late, not the client
        peer.run(now: 5_000 * Self.ms)
        #expect(!peer.closed)
        peer.respond(0, now: 5_001 * Self.ms)
        #expect(peer.take() == Self.ok2)
    }

    @Test func expectContinueIsAnsweredOnceTheHeadIsAccepted() {
        var peer = Peer()
        peer.send("POST /claims HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(peer.take() == "HTTP/1.1 100 Continue\r\n\r\n")
        peer.send("abc")
        #expect(peer.dispatched.first?.body == Array("abc".utf8))
        #expect(peer.dispatched.first?.head.expectsContinue == true)
        peer.respond(0)
        #expect(peer.take() == Self.ok2)
    }

    @Test func expectContinueWaitsForEarlierResponsesAndIsSkippedWhenTheBodyCame() {
        var peer = Peer()
        peer.send(Self.get(1) + "POST /claims HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(peer.written.isEmpty)  // response 0 is owed first
        peer.respond(0)
        #expect(peer.take() == Self.ok2 + "HTTP/1.1 100 Continue\r\n\r\n")

        var eager = Peer()
        eager.send("POST /claims HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nab")
        #expect(eager.written.isEmpty)  // the client did not wait
    }

    @Test func expectTooLargeOrUnknown() {
        var large = Peer()
        large.send("POST /claims HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n")
        #expect(large.take().hasPrefix("HTTP/1.1 413 Content Too Large\r\n"))  // no 100 first
        #expect(large.shutDown)

        var unknown = Peer()
        unknown.send("POST /claims HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\nContent-Length: 3\r\n\r\nabc")
        let answer = unknown.take()
        #expect(answer.hasPrefix("HTTP/1.1 417 Expectation Failed\r\n"))
        #expect(answer.contains("\"expectation_failed\""))
        #expect(unknown.dispatched.isEmpty && unknown.shutDown)
    }

    @Test func pipeliningLimitStopsReadingUntilAnswered() {
        var peer = Peer(Self.configuration(pipelined: 2))
        peer.send(Self.get(1) + Self.get(2) + Self.get(3))
        #expect(peer.dispatched.count == 2)
        #expect(peer.interest == [])  // not reading: only hang-ups are reported
        let reads = peer.machine.socketReadable()
        #expect(!reads)
        peer.respond(0)
        #expect(peer.dispatched.count == 3)  // buffered input is parsed once there is room
        #expect(peer.interest == [])  // two unanswered again
        peer.respond(1)
        #expect(peer.interest == .read)
    }

    @Test func aPipeliningClientYieldsItsTurn() {
        var peer = Peer(Self.configuration(perTurn: 2))
        peer.send(Self.get(1) + Self.get(2) + Self.get(3))
        #expect(peer.dispatched.count == 2)
        #expect(peer.resumeScheduled)
        peer.machine.resume()
        peer.run(now: 0)
        #expect(peer.dispatched.count == 3)
    }

    @Test func unreadOutputStopsReadingAndStallsOut() {
        var peer = Peer(Self.configuration(maxOutputBytes: 10))
        peer.window = 0
        peer.send(Self.get(1) + Self.get(2))
        peer.respond(0, body: String(repeating: "x", count: 20), now: 0)
        peer.respond(1, now: 0)
        #expect(peer.written.isEmpty)
        #expect(peer.interest == .write)  // 80 bytes queued > 10: no reading
        #expect(peer.timer == 1000 * Self.ms)  // send stall deadline
        peer.writable(window: 5, now: 400 * Self.ms)
        #expect(peer.text == "HTTP/")
        #expect(peer.timer == 1000 * Self.ms)  // armed earlier; re-arms for 1400 ms when it fires
        peer.machine.timerFired(now: 1000 * Self.ms)
        peer.run(now: 1000 * Self.ms)
        #expect(peer.timer == 1400 * Self.ms && !peer.closed)
        peer.machine.timerFired(now: 1400 * Self.ms)
        peer.run(now: 1400 * Self.ms)
        #expect(peer.closed)
    }

    @Test func notFoundAndEOFMidRequest() {
        var peer = Peer()
        peer.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = peer.take()
        #expect(answer.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(peer.dispatched.isEmpty && !peer.closed)
        peer.input.append(Array("POST /claims HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab".utf8))
        peer.eof = true
        peer.readable()  // the partial request
        peer.readable()  // EOF
        #expect(peer.closed && peer.dispatched.isEmpty)  // a request cut short reaches no handler
    }

    @Test func lateAndRepeatedResponsesAreIgnored() {
        var peer = Peer()
        peer.send(Self.get(1))
        peer.respond(0)
        peer.respond(0, 500)
        peer.respond(7, 500)
        #expect(peer.take() == Self.ok2)
    }

    // MARK: Streaming routes

    static func upload(length: Int, extra: String = "") -> String {
        "POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\(extra)\r\n"
    }

    @Test func streamingRouteIsDispatchedAtItsHeadAndGetsChunksWithBackpressure() {
        var peer = Peer()
        peer.send(Self.upload(length: 10) + "abcd")
        #expect(peer.dispatched.map(\.pattern) == ["/uploads"])
        #expect(peer.dispatched.first?.body == [])
        #expect(peer.delivered.map(\.bytes) == [Array("abcd".utf8)])
        // The chunk is not taken yet: nothing more is read, read interest is off.
        #expect(peer.interest == [])
        #expect(!peer.machine.canRead)
        let readsBefore = peer.reads
        peer.input.append(Array("efghij".utf8) + Array(Self.get(1).utf8))
        peer.readable()
        #expect(peer.reads == readsBefore && peer.delivered.count == 1)
        peer.machine.bodyChunkTaken(0)
        peer.readable()
        #expect(peer.delivered.map(\.bytes) == [Array("abcd".utf8), Array("efghij".utf8)])
        #expect(peer.ended.isEmpty)  // the end waits until the last chunk is taken
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [true])
        // The pipelined GET after the body is read only now, and answered after the upload.
        #expect(peer.dispatched.map(\.pattern) == ["/uploads", "/items/{id}"])
        peer.respond(1, body: "b2")
        #expect(peer.text == "")
        peer.respond(0, 202, body: "up")
        #expect(peer.take() == "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nup" + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nb2")
    }

    @Test func streamingBodyCutOffByEOFAbortsTheStream() {
        var peer = Peer()
        peer.send(Self.upload(length: 100) + "abc")
        peer.machine.bodyChunkTaken(0)
        peer.eof = true
        peer.readable()
        #expect(peer.delivered.map(\.bytes) == [Array("abc".utf8)])
        #expect(peer.ended.map(\.complete) == [false])
        #expect(peer.closed)
    }

    @Test func streamingBodyTooSlowAbortsTheStreamAndCloses() {
        var peer = Peer()
        peer.send(Self.upload(length: 900) + "abc", now: 0)
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.timer != nil)
        peer.machine.timerFired(now: 400 * Self.ms)
        peer.run(now: 400 * Self.ms)
        #expect(peer.ended.map(\.complete) == [false])
        #expect(peer.closed)
    }

    @Test func earlyAnswerEndsTheStreamAndTheRestOfTheBodyIsDiscarded() {
        var peer = Peer()
        peer.send(Self.upload(length: 10) + "abc")
        peer.respond(0, 400, body: "no")
        #expect(peer.ended.map(\.complete) == [false])
        #expect(peer.take() == "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
        // Not taken, yet reading goes on: the rest is dropped and the connection stays usable.
        peer.send("defghij" + Self.get(7))
        #expect(peer.delivered.count == 1)
        #expect(peer.dispatched.map(\.head.target) == ["/uploads", "/items/7"])
        #expect(peer.ended.count == 1)
        #expect(!peer.closed)
    }

    @Test func aClosingStreamedRequestIsReadToItsEndThenTheLast() {
        var peer = Peer()
        peer.send(Self.upload(length: 6, extra: "Connection: close\r\n") + "abc")
        peer.machine.bodyChunkTaken(0)
        peer.send("def" + Self.get(2))  // nothing after a closing request is read
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.delivered.map(\.bytes) == [Array("abc".utf8), Array("def".utf8)])
        #expect(peer.ended.map(\.complete) == [true])
        #expect(peer.dispatched.count == 1)
        peer.respond(0, 202, body: "up")
        #expect(peer.take() == "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nup")
        #expect(peer.shutDown)
    }

    @Test func streamingRouteKeepsItsBodyLimitAndContinue() {
        var refused = Peer()
        refused.send(Self.upload(length: 1001))
        #expect(refused.take().hasPrefix("HTTP/1.1 413 "))
        #expect(refused.dispatched.isEmpty)
        var peer = Peer()
        peer.send(Self.upload(length: 3, extra: "Expect: 100-continue\r\n"))
        #expect(peer.dispatched.count == 1)
        #expect(peer.take() == "HTTP/1.1 100 Continue\r\n\r\n")
        peer.send("xyz")
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [true])
    }
}
