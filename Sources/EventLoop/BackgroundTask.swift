import Dispatch
import Foundation

/// The node's one runner of background work that blocks (libpq, blocking Redis): a named
/// thread that runs `step` until stopped, paced by `TaskPacing` (idle and error backoff, or a
/// fixed period), at a chosen niceness. `stop()` wakes a waiting thread at once, lets a
/// running step finish, and returns when the thread has ended. Runs the grant flusher, the
/// points flusher, the expiry sweep, the bulk job runner and the campaign sync.
public final class BackgroundTask: @unchecked Sendable {  // `stopping`/`started` are guarded by `condition`
    public struct Options: Sendable {
        /// The name `top` and `/proc` show (at most 15 bytes reach the kernel).
        public var name: String
        public var pacing: TaskPacing
        /// `nice` of the thread (0: unchanged), e.g. so claim loops get the CPU first.
        public var niceness: Int32

        public init(name: String, pacing: TaskPacing, niceness: Int32 = 0) {
            self.name = name
            self.pacing = pacing
            self.niceness = niceness
        }
    }

    public let options: Options
    private let condition = NSCondition()
    private var stopping = false
    private var started = false
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options) { self.options = options }

    /// Starts the thread (once; not after `stop`). `step` returns how much work it did (0:
    /// idle); `onError` sees each failure before the error backoff.
    public func start(_ step: @escaping @Sendable () throws -> Int, onError: @escaping @Sendable (Error) -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !started, !stopping else { return }
        started = true
        let options = self.options
        let thread = Thread { [self] in
            try? options.name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            if options.niceness != 0 { _ = Posix.setThreadNice(options.niceness) }
            var pacing = TaskPacing.State(options.pacing)
            var delay = options.pacing.firstDelayMs
            while pause(milliseconds: delay) {
                do {
                    delay = pacing.delay(after: try step() > 0 ? .worked : .idle)
                } catch {
                    onError(error)
                    delay = pacing.delay(after: .failed)
                }
            }
            finished.signal()
        }
        thread.name = options.name
        thread.start()
    }

    /// True once `stop` was called; long steps check it between units of work.
    public var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Waits up to `milliseconds` (0: not at all), woken early by `stop`; false once stopping.
    /// For steps that pace themselves (e.g. a rate limit).
    public func pause(milliseconds: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if milliseconds > 0 && !stopping {
            let deadline = Date(timeIntervalSinceNow: Double(milliseconds) / 1000)
            while !stopping && condition.wait(until: deadline) {}
        }
        return !stopping
    }

    /// Stops after the current step and waits for the thread (at once if it never started).
    public func stop() {
        condition.lock()
        let wasRunning = started && !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wasRunning { finished.wait() }
    }
}
