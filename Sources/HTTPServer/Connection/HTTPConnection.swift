import CSystem
import EventLoop
import Glibc

/// One accepted TCP connection: reads and parses requests, dispatches them to the router,
/// writes responses in request order, enforces timeouts and pipelining backpressure.
/// Owns its socket and closes it; everything runs on its loop's thread.
final class HTTPConnection: IOHandler, @unchecked Sendable {  // confined to `loop`; Responders hop there via execute
    let fd: Int32
    let loop: EventLoop
    private unowned let context: LoopContext
    private var parser: HTTPRequestParser
    private var queue = ResponseQueue()
    private var current: PendingRequest?
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var timeouts: ConnectionTimeouts
    private var timer: TimerID?
    private var interest: IOInterest = []
    private(set) var isClosed = false
    /// No further requests will be read (error, `Connection: close`, closing).
    private var stopReading = false
    private var closeAfterFlush = false
    /// The last response is written and our side shut down; draining the peer before closing.
    private var lingering = false
    private var lingerDiscarded = 0
    /// True while `processInput` runs, so synchronous responses don't re-enter it.
    private var processing = false

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
        timeouts = ConnectionTimeouts(
            headerTimeoutNanos: context.configuration.headerReadTimeout.nanoseconds,
            idleTimeoutNanos: context.configuration.idleTimeout.nanoseconds)
    }

    func start() throws(IOError) {
        loop.preconditionInEventLoop()
        try loop.register(fd: fd, interest: .read, handler: self)
        interest = .read
        updateTimeouts()
    }

    private var atCapacity: Bool { queue.count >= context.configuration.maxPipelinedRequests }

    // MARK: Events

    func readable() {
        guard !isClosed else { return }
        let buffer = context.readBuffer
        if lingering {
            drainWhileLingering(buffer)
            return
        }
        // Paused (backpressure or done reading): we are here for a hang-up or error; reading
        // drains what the peer sent before it so the EOF is seen and epoll stops reporting.
        var rounds = 0
        while rounds < 16 {
            rounds += 1
            let result: IOResult<Int>
            do {
                result = try Syscall.call("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            } catch {
                close()
                return
            }
            guard case .processed(let count) = result else { break }
            if count == 0 {  // EOF: a request cut short never reaches a handler
                close()
                return
            }
            if !stopReading { parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) }
            if count < buffer.count { break }
        }
        pump()
    }

    func writable() {
        guard !isClosed else { return }
        pump()
    }

    /// A handler's response for request `sequence`. On the loop.
    func complete(_ sequence: UInt64, _ response: HTTPResponse) {
        loop.preconditionInEventLoop()
        guard !isClosed, queue.fill(sequence, response) else { return }
        drainReadyResponses()
        if !processing && !lingering { pump() }
    }

    /// Parses what is buffered, writes what is ready, then sets epoll interest and timers.
    private func pump() {
        if !stopReading && !atCapacity { processInput() }
        drainReadyResponses()
        flush()
        guard !isClosed && !lingering else { return }
        var wanted: IOInterest = []
        if !stopReading && !atCapacity { wanted.insert(.read) }
        if outputOffset < output.count { wanted.insert(.write) }
        if wanted != interest {
            loop.setInterest(fd: fd, wanted)
            interest = wanted
        }
        updateTimeouts()
    }

    // MARK: Requests

    private func processInput() {
        processing = true
        defer { processing = false }
        while !stopReading && !atCapacity && !isClosed {
            switch parser.next() {
            case .needMoreData:
                return
            case .headComplete(let head):
                let path = PercentDecoding.splitTarget(head.target).path
                let match = context.router.match(head.method, path: path)
                var limit = context.router.defaultBodyLimit
                if case .found(let route, _) = match { limit = route.bodyLimit }
                if case .error(let error)? = parser.continueWithBodyLimit(limit) {
                    refuse(error, method: head.method, match: match)
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
                refuse(error, method: current?.head.method ?? .other("?"), match: .notFound)
                return
            }
        }
    }

    private func dispatch(_ pending: PendingRequest) {
        let head = pending.head
        var pattern = "unmatched"
        if case .found(let route, _) = pending.match { pattern = route.pattern }
        let sequence = queue.reserve(
            ResponseQueue.Slot(
                response: nil, routePattern: pattern, method: head.method, startNanos: pending.startNanos,
                close: !head.keepAlive, http10KeepAlive: head.keepAlive && head.version == .http1_0))
        if !head.keepAlive { stopReading = true }
        switch pending.match {
        case .found(let route, let parameters):
            route.handler(HTTPRequest(head: head, body: pending.body, peerAddress: peerAddress), parameters, Responder(connection: self, sequence: sequence))
        case .methodNotAllowed(let allowed):
            var response = HTTPResponse.error(
                status: 405, code: "method_not_allowed", message: "method \(head.method) not allowed here")
            response.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            complete(sequence, response)
        case .notFound:
            complete(sequence, .error(status: 404, code: "not_found", message: "no route for \(head.method) \(PercentDecoding.splitTarget(head.target).path)"))
        }
    }

    /// Answers a request the parser refused, then closes.
    private func refuse(_ error: HTTPParserError, method: HTTPMethod, match: Router.Match) {
        var pattern = "unmatched"
        if case .found(let route, _) = match { pattern = route.pattern }
        stopReading = true
        current = nil
        let sequence = queue.reserve(
            ResponseQueue.Slot(
                response: nil, routePattern: pattern, method: method, startNanos: MonotonicClock.now(),
                close: true, http10KeepAlive: false))
        complete(sequence, error.response)
    }

    // MARK: Output

    private func drainReadyResponses() {
        while !closeAfterFlush, let slot = queue.popReady(), let response = slot.response {
            response.serialize(into: &output, close: slot.close, http10KeepAlive: slot.http10KeepAlive)
            context.configuration.onResponse?(
                slot.routePattern, slot.method, response.status, MonotonicClock.now() &- slot.startNanos)
            if slot.close {
                closeAfterFlush = true
                stopReading = true
                queue.removeAll()
            }
        }
    }

    private func flush() {
        guard !isClosed else { return }
        if output.isEmpty {
            if closeAfterFlush { close() }
            return
        }
        while outputOffset < output.count {
            let result: IOResult<Int>
            do {
                result = try output.withUnsafeBytes { bytes throws(IOError) in
                    try Syscall.call("send") {
                        send(fd, bytes.baseAddress! + outputOffset, bytes.count - outputOffset, Int32(MSG_NOSIGNAL))
                    }
                }
            } catch {
                close()
                return
            }
            guard case .processed(let written) = result else { return }  // EAGAIN: wait for writable
            outputOffset += written
        }
        output.removeAll(keepingCapacity: output.capacity <= 256 * 1024)
        outputOffset = 0
        if closeAfterFlush { startLingering() }
    }

    // MARK: Lingering close

    /// Closing a socket with unread input makes the kernel send RST, which can destroy the
    /// response we just wrote (a 413 with the body still arriving). So, like nginx's lingering
    /// close: shut our side down, discard input until EOF, at most 1 MiB or 500 ms, then close.
    private func startLingering() {
        guard !lingering, !isClosed else { return }
        lingering = true
        stopReading = true
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        if let timer { loop.cancel(timer) }
        timer = loop.schedule(afterMilliseconds: 500) { [weak self] in self?.close() }
        if interest != .read {
            loop.setInterest(fd: fd, .read)
            interest = .read
        }
    }

    private func drainWhileLingering(_ buffer: UnsafeMutableRawBufferPointer) {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                lingerDiscarded += count
                if lingerDiscarded > 1 << 20 { break }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            break  // EOF or error
        }
        close()
    }

    // MARK: Timeouts

    private func updateTimeouts() {
        let phase: ConnectionTimeouts.Phase
        if queue.count > 0 {
            phase = .awaitingHandler
        } else if outputOffset < output.count || parser.isReadingBody {
            phase = .transferring
        } else if parser.isReadingHead {
            phase = .readingHead
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
                guard let self, !self.isClosed else { return }
                self.timer = nil
                self.apply(self.timeouts.timerFired(now: MonotonicClock.now()))
            }
        case .close:
            close()
        }
    }

    // MARK: Closing

    func close() {
        guard !isClosed else { return }
        isClosed = true
        stopReading = true
        if let timer { loop.cancel(timer) }
        timer = nil
        queue.removeAll()
        current = nil
        loop.unregister(fd: fd)
        _ = Glibc.close(fd)
        context.remove(self)
    }
}
