import EventLoop

/// The protocol side of one HTTP/1.1 connection as one pure state machine: no socket, no loop,
/// no clock (every event carries `now`). `HTTPConnection` feeds it socket events and performs
/// the `Step`s it asks for; tests drive it with bytes and a mock clock.
///
/// Drive it like the parser: after any event call `next(now:)` and perform each step until
/// `.wait`. Steps: read once from the socket (`received` / `receivedEOF` / `readWouldBlock`),
/// write `output` (`wrote` / `writeWouldBlock`), run a route handler, shut the write side down,
/// schedule `resume()` in a later loop task, close; `.wait` says which readiness to watch and
/// when the one timer must fire.
///
/// - Pipelining: responses leave strictly in request order (`ResponseQueue`), whatever order
///   handlers complete in; at most `requestsPerTurn` requests are dispatched per loop turn, then
///   the connection yields (`.scheduleResume`).
/// - Backpressure: requests are read only while fewer than `maxPipelinedRequests` are unanswered
///   and at most `maxOutputBytes` wait for the peer; otherwise read interest is off.
/// - `Expect: 100-continue`: `100 Continue` is written once the head is accepted (body limit
///   checked) and every earlier response is out, unless body bytes already arrived.
/// - Streaming routes (`Route.streaming`): the handler is dispatched as soon as the head is
///   accepted; each body chunk read is delivered (`.deliverBody`) and reading stops until the
///   consumer has taken it (`bodyChunkTaken`), so an upload holds one chunk at a time; `.endBody`
///   says once whether the body ended or was cut off (close, timeout, or the handler answered
///   before the end: the rest of the body is then read and discarded).
/// - Closing: a response marked close (request `Connection: close`, a parser error, a 408) is
///   the last; after it is written our side is shut down and input discarded until EOF, at most
///   `lingerMaxBytes` or `lingerNanos` (nginx's lingering close: closing with unread input would
///   send RST and could destroy the response).
struct HTTPConnectionMachine {
    struct Configuration {
        var parserLimits = HTTPParserLimits()
        var timeouts: ConnectionTimeouts.Limits
        var maxPipelinedRequests = 64
        var maxOutputBytes = 1 << 20
        var requestsPerTurn = 16
        /// Reads per readiness event before yielding to the loop's other connections.
        var readsPerEvent = 16
        var lingerNanos: UInt64 = 500_000_000
        var lingerMaxBytes = 1 << 20
    }

    /// A request whose head is complete; its body accumulates in `.open(.body(_))`.
    struct PendingRequest {
        var head: HTTPRequestHead
        let match: Router.Match
        var body: [UInt8]
        let startNanos: UInt64
        /// `Expect: 100-continue` not answered yet.
        var continueOwed: Bool
    }

    /// What part of a request is being read while the connection is open.
    enum Reading {
        /// Between requests or inside a head (the parser knows which bytes it holds).
        case head
        /// The head is complete and dispatched nowhere yet; the body is being read.
        case body(PendingRequest)
    }

    /// The request of a streaming route whose body is being read.
    struct Streaming {
        let sequence: UInt64
        /// False once the server drains: the connection ends after this request.
        var keepAlive: Bool
        /// Body bytes read so far.
        var received = 0
        /// A delivered chunk the consumer has not taken yet: reading is paused.
        var outstanding = false
        /// The handler answered before the body ended: the rest is read and dropped.
        var discarding = false
        /// `.endBody` was returned.
        var endSent = false
        /// `Expect: 100-continue` not answered yet.
        var continueOwed: Bool
    }

    enum State {
        /// Reading requests (while backpressure allows) and writing responses.
        case open(Reading)
        /// No further requests are read; `lastQueued` once the response that ends the connection
        /// is in `output`.
        case finishing(lastQueued: Bool)
        /// The last response is written and our side shut down: discarding input until EOF,
        /// `lingerMaxBytes` or `until`.
        case draining(discarded: Int, until: UInt64)
        case closed
    }

    enum Step {
        /// Read once from the socket into the loop's buffer, then report it.
        case read
        /// Write `output` (`gather`), then report it.
        case write
        /// Run the route's handler; its response comes back through `complete(_:_:now:)`.
        case dispatch(Route, HTTPRequestHead, body: [UInt8], RouteParameters, sequence: UInt64)
        /// Run a streaming route's handler now, with a body stream the next steps feed.
        case dispatchStreaming(Route, HTTPRequestHead, RouteParameters, sequence: UInt64)
        /// Hand `bytes` to the stream of request `sequence`; report `bodyChunkTaken` when taken.
        case deliverBody([UInt8], sequence: UInt64)
        /// The stream of request `sequence` ends: `complete` (all of the body), or cut off.
        case endBody(sequence: UInt64, complete: Bool)
        /// `shutdown(SHUT_WR)`: the last response is out.
        case shutdownWrite
        /// Call `resume(now:)` from a later loop task (this connection used its turn).
        case scheduleResume
        /// Nothing to do until readiness in `interest`, a response, or the timer at `timer`
        /// (nil: no timer needed; a timer armed for a later deadline may stay, it re-arms).
        case wait(interest: IOInterest, timer: UInt64?)
        /// Close the socket (once).
        case close
    }

    let configuration: Configuration
    let router: Router
    private(set) var state = State.open(.head)
    private(set) var streaming: Streaming?
    private var parser: HTTPRequestParser
    private var queue = ResponseQueue()
    /// Response bytes not yet accepted by the peer.
    private(set) var output = OutputQueue()
    private var timeouts: ConnectionTimeouts
    /// Request heads parsed so far (numbers requests for the timeouts).
    private var headsParsed: UInt64 = 0
    /// Requests that may still be dispatched in this loop turn.
    private var budget: Int
    private var resumeScheduled = false
    /// The socket may have input (`socketReadable`), and reads left for this event.
    private var mayRead = false
    private var readsLeft = 0
    /// The last write was accepted whole; false after EAGAIN until `socketWritable`.
    private var mayWrite = true
    /// Called for each response queued for writing: route pattern, method, status, nanoseconds
    /// since the head was complete.
    var onResponse: HTTPResponseObserver?

    init(configuration: Configuration, router: Router) {
        self.configuration = configuration
        self.router = router
        parser = HTTPRequestParser(limits: configuration.parserLimits)
        timeouts = ConnectionTimeouts(configuration.timeouts)
        budget = configuration.requestsPerTurn
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    /// Requests may be read: open, and neither pipelining nor output is at its bound.
    var canRead: Bool {
        guard case .open = state else { return false }
        if streaming?.outstanding == true { return false }
        return queue.count < configuration.maxPipelinedRequests && output.byteCount <= configuration.maxOutputBytes
    }

    // MARK: Events

    /// The socket reported input (or a hang-up). False when the connection reads nothing now:
    /// the caller then checks for a hang-up itself and reports `peerHungUp()`.
    mutating func socketReadable() -> Bool {
        guard canRead || isDraining else { return false }
        mayRead = true
        readsLeft = configuration.readsPerEvent
        if !isDraining { budget = configuration.requestsPerTurn }
        return true
    }

    mutating func socketWritable() {
        mayWrite = true
        budget = configuration.requestsPerTurn
    }

    /// Bytes read after a `.read` step; `filledBuffer` when the read filled the buffer (more may wait).
    mutating func received(_ bytes: UnsafeRawBufferPointer, filledBuffer: Bool) {
        readsLeft -= 1
        if !filledBuffer || readsLeft <= 0 { mayRead = false }
        switch state {
        case .draining(let discarded, let until):
            let total = discarded + bytes.count
            state = total > configuration.lingerMaxBytes ? .closed : .draining(discarded: total, until: until)
        case .open, .finishing:
            parser.append(bytes)
        case .closed:
            break
        }
    }

    /// EOF, a read error or a hang-up: a request cut short never reaches a handler.
    mutating func receivedEOF() { state = .closed }

    mutating func readWouldBlock() { mayRead = false }

    mutating func peerHungUp() { state = .closed }

    mutating func wrote(_ count: Int) { output.consume(count) }

    mutating func writeWouldBlock() { mayWrite = false }

    /// A write failed (peer reset): nothing more can be delivered.
    mutating func writeFailed() { state = .closed }

    /// A handler's response for request `sequence`; ignored when late (connection closed or
    /// already answering its last response) or repeated.
    mutating func complete(_ sequence: UInt64, _ response: HTTPResponse, now: UInt64) {
        switch state {
        case .open, .finishing(lastQueued: false): break
        default: return
        }
        guard queue.fill(sequence, response) else { return }
        if var current = streaming, current.sequence == sequence, !current.discarding {
            // Answered before the body ended: the rest is dropped as it arrives.
            current.discarding = true
            current.outstanding = false
            current.continueOwed = false
            streaming = current
        }
    }

    /// The consumer of request `sequence`'s body took the chunk delivered last: reading resumes.
    mutating func bodyChunkTaken(_ sequence: UInt64) {
        guard var current = streaming, current.sequence == sequence else { return }
        current.outstanding = false
        streaming = current
        budget = configuration.requestsPerTurn
    }

    /// A new loop turn for this connection (a response completed outside `next`'s steps):
    /// it may dispatch `requestsPerTurn` requests again.
    mutating func startTurn() { budget = configuration.requestsPerTurn }

    /// Continues after `.scheduleResume`.
    mutating func resume() {
        resumeScheduled = false
        budget = configuration.requestsPerTurn
    }

    /// The loop timer fired: closes (or answers 408 and closes) when a deadline passed.
    mutating func timerFired(now: UInt64) {
        switch state {
        case .closed:
            return
        case .draining(_, let until):
            if now >= until { state = .closed }
            return
        case .open, .finishing:
            break
        }
        guard case .close(let reason) = timeouts.timerFired(now: now) else { return }
        // A late request gets a 408 when nothing else is owed or queued ahead of it.
        if reason.answersRequestTimeout && queue.count == 0 && output.isEmpty, case .open = state {
            answerAndClose(
                .error(status: 408, code: "request_timeout", message: "request not received in time"), now: now)
        } else {
            state = .closed
        }
    }

    /// Stops now (server shutdown).
    mutating func abort() { state = .closed }

    /// Graceful drain (server stopping): no further requests are read; the ones already read are
    /// answered, the newest with `Connection: close`, then the connection ends as after any last
    /// response (shut down, linger, close). With nothing owed it ends once its output is written.
    /// A request whose head is complete and whose body is still arriving (an upload streaming
    /// to its handler, or a buffered body) is in flight: its body is read to the end and it is
    /// answered, with `Connection: close`, before the connection ends. A request whose head is
    /// not complete is not in flight: it gets no answer.
    mutating func drain() {
        guard case .open(let reading) = state else { return }
        if var current = streaming, !current.discarding {
            current.keepAlive = false  // the body's end moves the connection to finishing
            streaming = current
            _ = queue.closeAfterNewest()  // the streamed request is the newest
            return
        }
        if case .body(var pending) = reading {
            state = .open(.head)
            pending.head.keepAlive = false  // dispatched as the connection's last request
            state = .open(.body(pending))
            return
        }
        state = .finishing(lastQueued: !queue.closeAfterNewest())
    }

    /// Requests in flight whose answers are not yet queued for writing: those read, and one
    /// whose body is still being read.
    var unansweredCount: Int {
        if isClosed { return 0 }
        if case .open(.body) = state { return queue.count + 1 }
        return queue.count
    }

    // MARK: Steps

    mutating func next(now: UInt64) -> Step {
        while true {
            switch state {
            case .closed:
                if let current = streaming {
                    streaming = nil
                    if !current.endSent { return .endBody(sequence: current.sequence, complete: false) }
                }
                queue.removeAll()
                return .close
            case .draining(_, let until):
                return mayRead ? .read : .wait(interest: .read, timer: until)
            case .open, .finishing:
                break
            }
            if var current = streaming, current.discarding, !current.endSent {
                current.endSent = true
                streaming = current
                return .endBody(sequence: current.sequence, complete: false)
            }
            queueReadyResponses(now: now)
            if !output.isEmpty && mayWrite { return .write }
            if case .finishing(lastQueued: true) = state, output.isEmpty {
                state = .draining(discarded: 0, until: Self.add(now, configuration.lingerNanos))
                streaming = nil
                mayRead = false
                return .shutdownWrite
            }
            if canRead && budget > 0 {
                if let step = parse(now: now) { return step }
                // A response the machine answered itself (404, 413, …) or a `100 Continue` to
                // send, reading stopped or the turn is used: go round again.
                queueReadyResponses(now: now)
                if !output.isEmpty && mayWrite { return .write }
                if !canRead || budget == 0 { continue }
                if mayRead { return .read }
            }
            if budget == 0 && canRead && parser.bufferedByteCount > 0 && !resumeScheduled {
                resumeScheduled = true
                return .scheduleResume
            }
            return wait(now: now)
        }
    }

    private mutating func wait(now: UInt64) -> Step {
        var interest: IOInterest = []
        if canRead { interest.insert(.read) }
        if !output.isEmpty { interest.insert(.write) }
        _ = timeouts.update(phase, now: now)
        return .wait(interest: interest, timer: timeouts.armed)
    }

    /// What the timeouts watch now.
    private var phase: ConnectionTimeouts.Phase {
        if let current = streaming {
            if current.outstanding { return .awaitingHandler }
            return .readingBody(request: headsParsed &- 1, received: current.received)
        }
        if queue.count > 0 { return .awaitingHandler }
        if !output.isEmpty && (!canRead || !parser.isReadingHead && !parser.isReadingBody) {
            return .writing(sent: output.bytesWritten)  // waiting for the peer to read
        }
        if case .open(.body(let pending)) = state {
            return .readingBody(request: headsParsed &- 1, received: pending.body.count)
        }
        if parser.isReadingHead { return .readingHead(request: headsParsed) }
        return .idle
    }

    /// Parses buffered input until a request is complete (its dispatch step), the parser needs
    /// more bytes (nil), or reading stops.
    private mutating func parse(now: UInt64) -> Step? {
        while canRead && budget > 0 {
            switch parser.next() {
            case .needMoreData:
                return nil
            case .headComplete(let head):
                headsParsed &+= 1
                let path = PercentDecoding.splitTarget(head.target).path
                let match = router.match(head.method, path: path)
                var limit = router.defaultBodyLimit
                if case .found(let route, _) = match { limit = route.bodyLimit }
                if case .error(let error)? = parser.continueWithBodyLimit(limit) {
                    answerAndClose(error.response, head: head, match: match, now: now)
                    return nil
                }
                if case .found(let route, let parameters) = match, route.streaming {
                    budget -= 1
                    let owed = head.expectsContinue && head.hasBody && head.version == .http1_1
                    let sequence = queue.reserve(Self.slot(for: head, match: match, startNanos: now, close: !head.keepAlive))
                    streaming = Streaming(sequence: sequence, keepAlive: head.keepAlive, continueOwed: owed)
                    return .dispatchStreaming(route, head, parameters, sequence: sequence)
                }
                var body: [UInt8] = []
                if head.contentLength > 0 { body.reserveCapacity(head.contentLength) }
                let owed = head.expectsContinue && head.hasBody && head.version == .http1_1
                state = .open(.body(PendingRequest(head: head, match: match, body: body, startNanos: now, continueOwed: owed)))
            case .body(let bytes):
                if var current = streaming {
                    current.received += bytes.count
                    current.continueOwed = false
                    if current.discarding {
                        streaming = current
                        continue
                    }
                    current.outstanding = true
                    streaming = current
                    return .deliverBody(Array(bytes), sequence: current.sequence)
                }
                guard case .open(.body(var pending)) = state else { continue }
                state = .open(.head)  // release the enum's reference: the append below does not copy
                pending.body.append(contentsOf: bytes)
                pending.continueOwed = false  // the client did not wait for it
                state = .open(.body(pending))
            case .requestComplete:
                if let current = streaming {
                    streaming = nil
                    if !current.keepAlive, case .open = state { state = .finishing(lastQueued: false) }
                    if !current.endSent { return .endBody(sequence: current.sequence, complete: true) }
                    continue
                }
                guard case .open(.body(let pending)) = state else { continue }
                state = .open(.head)
                if let step = dispatch(pending, now: now) { return step }
            case .error(let error):
                if streaming != nil {
                    failStreamingBody(error)
                    return nil
                }
                var head: HTTPRequestHead?
                var match = Router.Match.notFound
                if case .open(.body(let pending)) = state {
                    head = pending.head
                    match = pending.match
                }
                answerAndClose(error.response, head: head, match: match, now: now)
                return nil
            }
        }
        return nil
    }

    /// The body being streamed is malformed or over its limit (a chunked body can be either
    /// after its head was accepted): unless its handler already answered, the error is the
    /// request's answer and the handler sees the body cut off; either way the connection closes
    /// after the answer (the framing of what follows is unknown).
    private mutating func failStreamingBody(_ error: HTTPParserError) {
        guard var current = streaming else { return }
        if !current.discarding {
            _ = queue.fill(current.sequence, error.response)
            current.discarding = true
            current.outstanding = false
            current.continueOwed = false
            streaming = current
        }
        state = .finishing(lastQueued: !queue.closeAfterNewest())
    }

    private mutating func dispatch(_ pending: PendingRequest, now: UInt64) -> Step? {
        budget -= 1
        let head = pending.head
        let sequence = queue.reserve(
            Self.slot(for: head, match: pending.match, startNanos: pending.startNanos, close: !head.keepAlive))
        if !head.keepAlive { state = .finishing(lastQueued: false) }
        switch pending.match {
        case .found(let route, let parameters):
            return .dispatch(route, head, body: pending.body, parameters, sequence: sequence)
        case .methodNotAllowed(let allowed):
            var response = HTTPResponse.error(
                status: 405, code: "method_not_allowed", message: "method \(head.method) not allowed here")
            response.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            complete(sequence, response, now: now)
        case .notFound:
            let path = PercentDecoding.splitTarget(head.target).path
            let shown = path.utf8.count <= 256 ? path : String(decoding: path.utf8.prefix(256), as: UTF8.self) + "..."
            complete(sequence, .error(status: 404, code: "not_found", message: "no route for \(head.method) \(shown)"), now: now)
        case .methodNotImplemented:
            // The method is client input of any length: not echoed.
            complete(sequence, .error(status: 501, code: "not_implemented", message: "request method not implemented"), now: now)
        }
        return nil
    }

    private static func slot(for head: HTTPRequestHead?, match: Router.Match, startNanos: UInt64, close: Bool) -> ResponseQueue.Slot {
        var pattern = "unmatched"
        if case .found(let route, _) = match { pattern = route.pattern }
        let method = head?.method ?? .unrecognized
        return ResponseQueue.Slot(
            response: nil, routePattern: pattern, method: method.isStandard ? method : .unrecognized,
            startNanos: startNanos, close: close, toHEAD: method == .HEAD,
            http10KeepAlive: !close && head?.keepAlive == true && head?.version == .http1_0)
    }

    /// Answers the request being read with `response` (a parser error, a request timeout), then
    /// closes: the framing of anything after it is unknown.
    private mutating func answerAndClose(_ response: HTTPResponse, now: UInt64) {
        var head: HTTPRequestHead?
        var match = Router.Match.notFound
        if case .open(.body(let pending)) = state {
            head = pending.head
            match = pending.match
        }
        answerAndClose(response, head: head, match: match, now: now)
    }

    private mutating func answerAndClose(_ response: HTTPResponse, head: HTTPRequestHead?, match: Router.Match, now: UInt64) {
        state = .finishing(lastQueued: false)
        let sequence = queue.reserve(Self.slot(for: head, match: match, startNanos: now, close: true))
        complete(sequence, response, now: now)
    }

    /// Moves ready responses, in order, from the queue into `output`; then a `100 Continue`
    /// owed to the request being read, once nothing is queued before it.
    private mutating func queueReadyResponses(now: UInt64) {
        while true {
            switch state {
            case .open, .finishing(lastQueued: false): break
            default: return
            }
            guard let slot = queue.popReady(), let response = slot.response else { break }
            output.withPackedTail {
                response.serializeHead(into: &$0, close: slot.close, http10KeepAlive: slot.http10KeepAlive)
            }
            if response.sendsBody(toHEAD: slot.toHEAD) { output.append(response.body) }
            onResponse?(slot.routePattern, slot.method, response.status, now &- slot.startNanos)
            if slot.close {
                state = .finishing(lastQueued: true)
                queue.removeAll()
            }
        }
        if var current = streaming, current.continueOwed, queue.count == 1 {
            current.continueOwed = false
            streaming = current
            output.withPackedTail { $0.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8) }
        }
        if case .open(.body(var pending)) = state, pending.continueOwed, queue.count == 0 {
            state = .open(.head)
            pending.continueOwed = false
            output.withPackedTail { $0.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8) }
            state = .open(.body(pending))
        }
    }

    /// Saturating addition: a deadline past the end of time never fires.
    private static func add(_ time: UInt64, _ duration: UInt64) -> UInt64 {
        let (sum, overflow) = time.addingReportingOverflow(duration)
        return overflow ? .max : sum
    }
}
