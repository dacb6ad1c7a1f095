import CSystem
import Dispatch
import EventLoop
import Glibc
import Synchronization

/// The HTTP/1.1 server: one `SO_REUSEPORT` listening socket per event loop on the same port,
/// each loop accepting and serving its own connections. Owns the listening sockets and the
/// connections it accepted; owns no loop (the caller's `EventLoopGroup` does) and no
/// application logic (the `Router`'s handlers do).
public final class HTTPServer: @unchecked Sendable {  // mutable state behind `state`; loop objects touched only on their loops
    public let group: EventLoopGroup
    public let configuration: HTTPServerConfiguration
    public let router: Router

    private struct Bound: @unchecked Sendable {  // its objects are only touched on their own loop
        let context: LoopContext
        let listener: Listener
    }

    private struct State {
        var port = 0
        var bound: [Bound] = []
        var started = false
    }

    private let state = Mutex<State>(State())

    public init(group: EventLoopGroup, configuration: HTTPServerConfiguration, router: Router) {
        self.group = group
        self.configuration = configuration
        self.router = router
    }

    /// The port actually listened on (the chosen one when configured with 0); 0 before `start()`.
    public var port: Int { state.withLock { $0.port } }

    /// Binds one listener per loop and starts accepting. Throws `IOError` if a bind fails.
    public func start() throws {
        precondition(!state.withLock { $0.started }, "HTTPServer.start() called twice")
        var port = configuration.port
        var fds: [Int32] = []
        do {
            for _ in group.loops {
                let fd = try Posix.listenTCP4(host: configuration.host, port: port, backlog: configuration.backlog, reusePort: true)
                fds.append(fd)
                if port == 0 { port = Posix.localPort(fd) }
            }
        } catch {
            for fd in fds { Posix.close(fd) }
            throw error
        }

        var bound: [Bound] = []
        var failure: (any Error)?
        for (loop, fd) in zip(group.loops, fds) {
            let result = Self.onLoop(loop) { () -> Result<Bound, any Error> in
                let context = LoopContext(loop: loop, configuration: self.configuration, router: self.router)
                let listener = Listener(fd: fd, context: context)
                do {
                    try listener.start()
                } catch {
                    return .failure(error)
                }
                return .success(Bound(context: context, listener: listener))
            }
            switch result {
            case .success(let entry): bound.append(entry)
            case .failure(let error):
                Posix.close(fd)
                failure = error
            }
        }
        if let failure {
            for entry in bound { Self.onLoop(entry.context.loop) { entry.listener.close() } }
            throw failure
        }
        state.withLock {
            $0.port = port
            $0.bound = bound
            $0.started = true
        }
    }

    /// Closes the listeners and every open connection, and waits until each loop has done so.
    public func stop() {
        let bound = state.withLock { state -> [Bound] in
            let taken = state.bound
            state.bound = []
            return taken
        }
        for entry in bound {
            Self.onLoop(entry.context.loop) {
                entry.listener.close()
                entry.context.closeAll()
            }
        }
    }

    /// Graceful drain: stops accepting at once (closes the listeners) and lets every connection
    /// answer the requests it already read (the last answer says `Connection: close`), a body
    /// still arriving (an upload) being read to its end first, waiting
    /// up to `timeoutSeconds` for the handlers; then up to `lingerSeconds` more for the answers
    /// to leave and the connections to close by themselves (a peer that never reads is not
    /// waited for); then closes whatever is left. True when every handler answered in time.
    @discardableResult
    public func drain(timeoutSeconds: Double, lingerSeconds: Double = 0.5) -> Bool {
        let bound = state.withLock { $0.bound }
        for entry in bound {
            Self.onLoop(entry.context.loop) {
                entry.listener.close()
                entry.context.drainAll()
            }
        }
        let answered = Self.poll(untilSeconds: timeoutSeconds) {
            bound.allSatisfy { entry in Self.onLoop(entry.context.loop) { entry.context.unansweredCount == 0 } }
        }
        _ = Self.poll(untilSeconds: lingerSeconds) { connectionCount == 0 }
        stop()
        return answered
    }

    /// Calls `done` every 5 ms until it is true or `seconds` have passed; its last answer.
    private static func poll(untilSeconds seconds: Double, _ done: () -> Bool) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(max(seconds, 0) * 1e9)
        while true {
            if done() { return true }
            if MonotonicClock.now() >= deadline { return false }
            usleep(5_000)
        }
    }

    /// Open connections on all loops (diagnostics and tests).
    public var connectionCount: Int {
        let bound = state.withLock { $0.bound }
        return bound.reduce(0) { total, entry in total + Self.onLoop(entry.context.loop) { entry.context.connectionCount } }
    }

    /// Runs `body` on `loop` and waits for its result (directly when already on it).
    @discardableResult
    private static func onLoop<T>(_ loop: EventLoop, _ body: @escaping () -> T) -> T {
        if loop.inEventLoop { return body() }
        let box = UncheckedBox<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let work = UncheckedBox(body)
        loop.execute {
            box.value = work.value()
            done.signal()
        }
        done.wait()
        return box.value!
    }
}

/// Carries a non-Sendable value to another thread and back where a semaphore orders the accesses.
final class UncheckedBox<Value>: @unchecked Sendable {  // accesses ordered by a DispatchSemaphore
    var value: Value
    init(_ value: Value) { self.value = value }
}
