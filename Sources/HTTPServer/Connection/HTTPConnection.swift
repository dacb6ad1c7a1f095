import CSystem
import EventLoop
import Glibc

/// One accepted TCP connection: reads and parses requests, dispatches them to the router,
/// writes responses in request order, enforces timeouts and backpressure. Owns its socket
/// and closes it; everything runs on its loop's thread.
///
/// Backpressure: requests are read only while fewer than `maxPipelinedRequests` are
/// unanswered and at most `maxOutputBytes` of responses wait for the peer to read them, so a
/// client that pipelines and never reads costs a bounded amount of memory, whatever the
/// handlers' speed. While not reading, the socket is watched only for hang-ups.
final class HTTPConnection: IOHandler, @unchecked Sendable {  // confined to `loop`; Responders hop there via execute
    let fd: Int32
    let loop: EventLoop
    private unowned let context: LoopContext
    private var parser: HTTPRequestParser
    private var queue = ResponseQueue()
    private var current: PendingRequest?
    private var output = OutputQueue()
    private var timeouts: ConnectionTimeouts
    private var timer: TimerID?
    private var interest: IOInterest = []
    private var lifecycle = Lifecycle.open
    /// True while `processInput` runs, so synchronous responses don't re-enter it.
    private var processing = false
    /// Request heads parsed so far (numbers requests for the timeouts).
    private var headsParsed: UInt64 = 0
    /// Requests this connection may still dispatch in the current loop turn. A pipelining
    /// client gets at most `requestsPerTurn` per turn, then yields to the loop's other
    /// connections and resumes in a task (`resumeScheduled`), so one client cannot delay
    /// another's answer by more than a turn.
    private var budget = HTTPConnection.requestsPerTurn
    private var resumeScheduled = false
    static let requestsPerTurn = 16

    /// Where the connection is in its life; each state carries what it needs, so "lingering
    /// but still reading" and the like cannot be expressed.
    enum Lifecycle: Equatable {
        /// Reading requests (while backpressure allows) and writing responses.
        case open
        /// No further requests are read (`Connection: close`, an error or a deadline being
        /// answered); `lastQueued` once the response that ends the connection is in the output.
        case finishing(lastQueued: Bool)
        /// The last response is written and our side shut down; discarding the peer's input
        /// until its EOF, at most 1 MiB or 500 ms, then closing.
        case lingering(discarded: Int)
        case closed
    }

    var isClosed: Bool { lifecycle == .closed }
    private var isLingering: Bool {
        if case .lingering = lifecycle { return true }
        return false
    }

    /// Reads no more requests: the response to the last one read (or to an error) ends the connection.
    private func finishReading() {
        if lifecycle == .open { lifecycle = .finishing(lastQueued: false) }
    }

    private struct PendingRequest {
        let head: HTTPRequestHead
        let match: Router.Match
        var body: [UInt8]
        let startNanos: UInt64
    }

    /// The TCP peer's address as text (`""` when unknown).
    let peerAddress: String

    init(fd: Int32, context: LoopContext, peerAddress: String = "") {
        self.fd = fd
        self.peerAddress = peerAddress
        self.loop = context.loop
        self.context = context
        parser = HTTPRequestParser(limits: context.configuration.parserLimits)
        timeouts = ConnectionTimeouts(context.configuration.timeoutLimits)
    }

    func start() throws(IOError) {
        loop.preconditionInEventLoop()
        try loop.register(fd: fd, interest: .read, handler: self)
        interest = .read
        updateTimeouts()
    }

    /// Requests may be read: not stopped, and neither pipelining nor output is at its bound.
    private var canRead: Bool {
        lifecycle == .open && queue.count < context.configuration.maxPipelinedRequests
            && output.byteCount <= context.configuration.maxOutputBytes
    }

    // MARK: Events

    func readable() {
        switch lifecycle {
        case .closed:
            return
        case .lingering(let discarded):
            drainWhileLingering(context.readBuffer, discarded: discarded)
            return
        case .open, .finishing:
            break
        }
        budget = Self.requestsPerTurn
        guard canRead else {
            // Not reading (backpressure or done): read interest is off, so epoll reports only
            // errors and hang-ups. Unread input stays in the kernel; a gone peer is closed now.
            if csystem_peer_hung_up(fd) != 0 { close() }
            return
        }
        let buffer = context.readBuffer
        // Read one buffer at a time and parse it before the next, so a pause for backpressure
        // leaves the rest in the socket rather than in the parser.
        var rounds = 0
        while rounds < 16 && canRead && budget > 0 {
            rounds += 1
            let result: IOResult<Int>
            do {
                result = try Posix.read(fd, into: buffer)
            } catch {
                close()
                return
            }
            guard case .processed(let count) = result else { break }
            if count == 0 {  // EOF: a request cut short never reaches a handler
                close()
                return
            }
            parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            processInput()
            if count < buffer.count { break }
        }
        pump()
    }

    func writable() {
        guard !isClosed else { return }
        budget = Self.requestsPerTurn
        pump()
    }

    /// A handler's response for request `sequence`. On the loop.
    func complete(_ sequence: UInt64, _ response: HTTPResponse) {
        loop.preconditionInEventLoop()
        guard !isClosed, queue.fill(sequence, response) else { return }
        drainReadyResponses()
        if !processing && !isLingering {
            budget = Self.requestsPerTurn
            pump()
        }
    }

    /// Continues a pipelining client after it yielded its turn.
    private func resume() {
        resumeScheduled = false
        guard !isClosed && !isLingering else { return }
        budget = Self.requestsPerTurn
        pump()
    }

    /// Writes what is ready and parses what is buffered until neither makes progress, then
    /// sets epoll interest and timers.
    private func pump() {
        while true {
            var ranParser = false
            var parsed = false
            if canRead {
                let buffered = parser.bufferedByteCount
                processInput()
                ranParser = true
                parsed = parser.bufferedByteCount != buffered
            }
            drainReadyResponses()
            flush()
            guard !isClosed && !isLingering else { return }
            // Output drained while requests are still buffered (read before a pause): parse
            // them now, epoll will not report bytes that have already left the socket.
            if !canRead || budget == 0 || parser.bufferedByteCount == 0 || (ranParser && !parsed) { break }
        }
        if budget == 0 && canRead && parser.bufferedByteCount > 0 && !resumeScheduled {
            resumeScheduled = true
            loop.execute { [weak self] in self?.resume() }
        }
        var wanted: IOInterest = []
        if canRead { wanted.insert(.read) }
        if !output.isEmpty { wanted.insert(.write) }
        if wanted != interest {
            loop.setInterest(fd: fd, wanted)
            interest = wanted
        }
        updateTimeouts()
    }

    // MARK: Requests

    private func processInput() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while canRead && budget > 0 {
            switch parser.next() {
            case .needMoreData:
                return
            case .headComplete(let head):
                headsParsed &+= 1
                let path = PercentDecoding.splitTarget(head.target).path
                let match = context.router.match(head.method, path: path)
                var limit = context.router.defaultBodyLimit
                if case .found(let route, _) = match { limit = route.bodyLimit }
                if case .error(let error)? = parser.continueWithBodyLimit(limit) {
                    answerAndClose(error.response, head: head, match: match)
                    return
                }
                var body: [UInt8] = []
                if head.contentLength > 0 { body.reserveCapacity(head.contentLength) }
                current = PendingRequest(head: head, match: match, body: body, startNanos: MonotonicClock.now())
            case .body(let bytes):
                current?.body.append(contentsOf: bytes)
            case .requestComplete:
                if let request = current {
                    current = nil
                    dispatch(request)
                }
            case .error(let error):
                answerAndClose(error.response, head: current?.head, match: current?.match ?? .notFound)
                return
            }
        }
    }

    private func dispatch(_ pending: PendingRequest) {
        budget -= 1
        let head = pending.head
        let sequence = queue.reserve(
            slot(for: head, match: pending.match, startNanos: pending.startNanos, close: !head.keepAlive))
        if !head.keepAlive { finishReading() }
        switch pending.match {
        case .found(let route, let parameters):
            route.handler(HTTPRequest(head: head, body: pending.body, peerAddress: peerAddress), parameters, Responder(connection: self, sequence: sequence))
        case .methodNotAllowed(let allowed):
            var response = HTTPResponse.error(
                status: 405, code: "method_not_allowed", message: "method \(head.method) not allowed here")
            response.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            complete(sequence, response)
        case .notFound:
            let path = PercentDecoding.splitTarget(head.target).path
            let shown = path.utf8.count <= 256 ? path : String(decoding: path.utf8.prefix(256), as: UTF8.self) + "..."
            complete(sequence, .error(status: 404, code: "not_found", message: "no route for \(head.method) \(shown)"))
        case .methodNotImplemented:
            // The method is client input of any length: not echoed.
            complete(sequence, .error(status: 501, code: "not_implemented", message: "request method not implemented"))
        }
    }

    private func slot(for head: HTTPRequestHead?, match: Router.Match, startNanos: UInt64, close: Bool) -> ResponseQueue.Slot {
        var pattern = "unmatched"
        if case .found(let route, _) = match { pattern = route.pattern }
        let method = head?.method ?? .unrecognized
        return ResponseQueue.Slot(
            response: nil, routePattern: pattern, method: method.isStandard ? method : .unrecognized,
            startNanos: startNanos, close: close, toHEAD: method == .HEAD,
            http10KeepAlive: !close && head?.keepAlive == true && head?.version == .http1_0)
    }

    /// Answers the request being read with `response` (a parser error, a request timeout),
    /// then closes: the framing of anything after it is unknown.
    private func answerAndClose(_ response: HTTPResponse, head: HTTPRequestHead?, match: Router.Match) {
        finishReading()
        current = nil
        let sequence = queue.reserve(slot(for: head, match: match, startNanos: MonotonicClock.now(), close: true))
        complete(sequence, response)
    }

    // MARK: Output

    private func drainReadyResponses() {
        while lifecycle == .open || lifecycle == .finishing(lastQueued: false), let slot = queue.popReady(),
            let response = slot.response
        {
            output.withPackedTail {
                response.serializeHead(into: &$0, close: slot.close, http10KeepAlive: slot.http10KeepAlive)
            }
            if response.sendsBody(toHEAD: slot.toHEAD) { output.append(response.body) }
            context.configuration.onResponse?(
                slot.routePattern, slot.method, response.status, MonotonicClock.now() &- slot.startNanos)
            if slot.close {
                lifecycle = .finishing(lastQueued: true)
                queue.removeAll()
            }
        }
    }

    private func flush() {
        guard !isClosed else { return }
        while !output.isEmpty {
            let attempt = output.gather(maxChunks: 64) { vectors -> Result<IOResult<Int>, IOError> in
                do throws(IOError) {
                    return .success(try Posix.sendmsg(fd, vectors))
                } catch {
                    return .failure(error)
                }
            }
            guard case .success(let result) = attempt else {
                close()
                return
            }
            guard case .processed(let written) = result else { return }  // EAGAIN: wait for writable
            output.consume(written)
        }
        if lifecycle == .finishing(lastQueued: true) { startLingering() }
    }

    // MARK: Lingering close

    /// Closing a socket with unread input makes the kernel send RST, which can destroy the
    /// response we just wrote (a 413 with the body still arriving). So, like nginx's lingering
    /// close: shut our side down, discard input until EOF, at most 1 MiB or 500 ms, then close.
    private func startLingering() {
        guard lifecycle == .finishing(lastQueued: true) else { return }
        lifecycle = .lingering(discarded: 0)
        Posix.shutdownWrite(fd)
        if let timer { loop.cancel(timer) }
        timer = loop.schedule(afterMilliseconds: 500) { [weak self] in self?.close() }
        if interest != .read {
            loop.setInterest(fd: fd, .read)
            interest = .read
        }
    }

    private func drainWhileLingering(_ buffer: UnsafeMutableRawBufferPointer, discarded: Int) {
        var discarded = discarded
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                discarded += count
                if discarded > 1 << 20 { break }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                lifecycle = .lingering(discarded: discarded)
                return
            }
            break  // EOF or error
        }
        close()
    }

    // MARK: Timeouts

    private func updateTimeouts() {
        let phase: ConnectionTimeouts.Phase
        if queue.count > 0 {
            phase = .awaitingHandler
        } else if !output.isEmpty && (!canRead || !parser.isReadingHead && !parser.isReadingBody) {
            phase = .writing(sent: output.bytesWritten)  // waiting for the peer to read
        } else if parser.isReadingBody {
            phase = .readingBody(request: headsParsed &- 1, received: current?.body.count ?? 0)
        } else if parser.isReadingHead {
            phase = .readingHead(request: headsParsed)
        } else {
            phase = .idle
        }
        apply(timeouts.update(phase, now: MonotonicClock.now()))
    }

    private func apply(_ action: ConnectionTimeouts.Action) {
        switch action {
        case .none:
            break
        case .scheduleTimer(let deadline):
            if let timer { loop.cancel(timer) }
            let now = MonotonicClock.now()
            timer = loop.schedule(afterNanoseconds: deadline > now ? deadline - now : 0) { [weak self] in
                guard let self, !self.isClosed, !self.isLingering else { return }
                self.timer = nil
                self.apply(self.timeouts.timerFired(now: MonotonicClock.now()))
            }
        case .close(let reason):
            // A late request gets a 408 when nothing else is owed or queued ahead of it.
            if reason.answersRequestTimeout && queue.count == 0 && output.isEmpty && lifecycle == .open {
                answerAndClose(
                    .error(status: 408, code: "request_timeout", message: "request not received in time"),
                    head: current?.head, match: current?.match ?? .notFound)
            } else {
                close()
            }
        }
    }

    // MARK: Closing

    /// Requests read whose answers are not yet in the output (a handler is still working).
    var unansweredCount: Int { isClosed ? 0 : queue.count }

    /// Graceful drain: reads no further requests; the requests already read are answered, the
    /// newest with `Connection: close`, then the connection closes (lingering as usual). An
    /// idle connection (nothing owed) closes once its pending output is written.
    func drain() {
        guard lifecycle == .open else { return }
        current = nil  // a request not fully received is not in flight: it gets no answer
        if queue.closeAfterNewest() {
            lifecycle = .finishing(lastQueued: false)
        } else {
            lifecycle = .finishing(lastQueued: true)
            if output.isEmpty {
                close()
                return
            }
        }
        pump()
    }

    func close() {
        guard !isClosed else { return }
        lifecycle = .closed
        if let timer { loop.cancel(timer) }
        timer = nil
        queue.removeAll()
        current = nil
        loop.unregister(fd: fd)
        Posix.close(fd)
        context.remove(self)
    }
}
