import CSystem
import EventLoop
import Glibc

/// One accepted TCP connection: the socket side of `HTTPConnectionMachine`. It reports socket
/// readiness, reads, writes, the timer and handlers' responses to the machine and performs the
/// steps the machine asks for; every protocol decision (framing, pipelining order,
/// backpressure, timeouts, lingering close) is the machine's. Owns its socket and closes it;
/// everything runs on its loop's thread.
final class HTTPConnection: IOHandler, @unchecked Sendable {  // confined to `loop`; Responders hop there via execute
    let fd: Int32
    let loop: EventLoop
    private unowned let context: LoopContext
    private var machine: HTTPConnectionMachine
    /// The epoll interest registered for `fd`.
    private var interest: IOInterest = []
    private var timer: TimerID?
    private var timerDeadline: UInt64?
    /// True while `run` performs steps, so a response completed synchronously by a handler is
    /// only stored (the running loop writes it) instead of re-entering.
    private var running = false
    private(set) var isClosed = false
    /// The body stream of the streaming request being read, if any.
    private var activeStream: HTTPBodyStream?

    /// The TCP peer's address as text (`""` when unknown).
    let peerAddress: String

    init(fd: Int32, context: LoopContext, peerAddress: String = "") {
        self.fd = fd
        self.peerAddress = peerAddress
        self.loop = context.loop
        self.context = context
        machine = HTTPConnectionMachine(configuration: context.connectionConfiguration, router: context.router)
        machine.onResponse = context.configuration.onResponse
    }

    func start() throws(IOError) {
        loop.preconditionInEventLoop()
        try loop.register(fd: fd, interest: .read, handler: self)
        interest = .read
        run()
    }

    // MARK: Events

    func readable() {
        guard !isClosed else { return }
        if !machine.socketReadable() {
            // Not reading (backpressure or done): read interest is off, so epoll reports only
            // errors and hang-ups. Unread input stays in the kernel; a gone peer is closed now.
            guard csystem_peer_hung_up(fd) != 0 else { return }
            machine.peerHungUp()
        }
        run()
    }

    func writable() {
        guard !isClosed else { return }
        machine.socketWritable()
        run()
    }

    /// A handler's response for request `sequence`. On the loop.
    func complete(_ sequence: UInt64, _ response: HTTPResponse) {
        loop.preconditionInEventLoop()
        guard !isClosed else { return }
        machine.complete(sequence, response, now: MonotonicClock.now())
        if !running {
            machine.startTurn()
            run()
        }
    }

    /// Requests read whose answers are not yet in the output (a handler is still working).
    var unansweredCount: Int { isClosed ? 0 : machine.unansweredCount }

    /// Graceful server stop (`HTTPServer.drain`): see `HTTPConnectionMachine.drain`.
    func drain() {
        guard !isClosed else { return }
        machine.drain()
        if !running { run() }
    }

    /// Server shutdown.
    func close() {
        guard !isClosed else { return }
        machine.abort()
        if !running { run() }
    }

    // MARK: Steps

    private func run() {
        guard !running && !isClosed else { return }
        running = true
        defer { running = false }
        // One clock read per run: its steps take microseconds, and the machine's deadlines are
        // milliseconds to seconds (a clock read per step was ≈ 1 % of a claim's CPU).
        let now = MonotonicClock.now()
        while true {
            switch machine.next(now: now) {
            case .read:
                read()
            case .write:
                write()
            case .dispatch(let route, let head, let body, let parameters, let sequence):
                route.handler(
                    HTTPRequest(head: head, body: body, peerAddress: peerAddress), parameters,
                    Responder(connection: self, sequence: sequence))
            case .dispatchStreaming(let route, let head, let parameters, let sequence):
                let stream = HTTPBodyStream { [weak self, loop] in
                    loop.execute { [weak self] in
                        guard let self, !self.isClosed else { return }
                        self.machine.bodyChunkTaken(sequence)
                        self.run()
                    }
                }
                activeStream = stream
                var request = HTTPRequest(head: head, peerAddress: peerAddress)
                request.bodyStream = stream
                route.handler(request, parameters, Responder(connection: self, sequence: sequence))
            case .deliverBody(let bytes, _):
                activeStream?.push(bytes)
            case .endBody(_, let complete):
                if complete { activeStream?.finish() } else { activeStream?.abort() }
                activeStream = nil
            case .shutdownWrite:
                Posix.shutdownWrite(fd)
            case .scheduleResume:
                loop.execute { [self] in  // strong: runs within this turn (see `arm` on why not weak)
                    guard !isClosed else { return }
                    machine.resume()
                    run()
                }
            case .wait(let wanted, let deadline):
                if wanted != interest {
                    loop.setInterest(fd: fd, wanted)
                    interest = wanted
                }
                if let deadline, deadline != timerDeadline { arm(deadline) }
                return
            case .close:
                finishClosing()
                return
            }
        }
    }

    private func read() {
        let buffer = context.readBuffer
        let result: IOResult<Int>
        do {
            result = try Posix.read(fd, into: buffer)
        } catch {
            machine.receivedEOF()
            return
        }
        guard case .processed(let count) = result else {
            machine.readWouldBlock()
            return
        }
        if count == 0 {
            machine.receivedEOF()
            return
        }
        machine.received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), filledBuffer: count == buffer.count)
    }

    private func write() {
        let attempt = machine.output.gather(maxChunks: 64) { vectors -> Result<IOResult<Int>, IOError> in
            do throws(IOError) {
                return .success(try Posix.sendmsg(fd, vectors))
            } catch {
                return .failure(error)
            }
        }
        switch attempt {
        case .failure:
            machine.writeFailed()
        case .success(.processed(let written)):
            machine.wrote(written)
        case .success:
            machine.writeWouldBlock()  // EAGAIN: wait for writable
        }
    }

    /// The timer's closure holds the connection strongly: the loop keeps it until the timer fires
    /// or `finishClosing` cancels it, so it keeps a connection alive at most until its deadline.
    /// (A `weak` capture would give every connection a side table, and every retain of it — one per
    /// response completion — would take Swift's slower side-table path.)
    private func arm(_ deadline: UInt64) {
        if let timer { loop.cancel(timer) }
        timerDeadline = deadline
        let now = MonotonicClock.now()
        timer = loop.schedule(afterNanoseconds: deadline > now ? deadline - now : 0) { [self] in
            guard !isClosed else { return }
            timer = nil
            timerDeadline = nil
            machine.timerFired(now: MonotonicClock.now())
            run()
        }
    }

    private func finishClosing() {
        isClosed = true
        activeStream?.abort()
        activeStream = nil
        if let timer { loop.cancel(timer) }
        timer = nil
        loop.unregister(fd: fd)
        Posix.close(fd)
        context.remove(self)
    }
}
