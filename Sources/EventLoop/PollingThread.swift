import Dispatch
import Foundation
import Synchronization

/// A background thread that calls `iteration` until stopped: after an iteration that reports
/// no work it sleeps, from `idleMilliseconds` doubling up to `maxIdleMilliseconds` while idle;
/// after an error it backs off from 50 ms doubling to 2 s. The one runner of the node's polling
/// loops (the grant flusher, the points flusher), so each of them is only its iteration.
public final class PollingThread: Sendable {
    public struct Options: Sendable {
        /// The name `top` and `/proc` show (Thread.name does not reach the kernel on Linux).
        public var name: String
        public var idleMilliseconds: Int
        public var maxIdleMilliseconds: Int
        /// `nice` of the thread (0: unchanged), e.g. so claim loops get the CPU first.
        public var niceness: Int32

        public init(name: String, idleMilliseconds: Int, maxIdleMilliseconds: Int? = nil, niceness: Int32 = 0) {
            self.name = name
            self.idleMilliseconds = idleMilliseconds
            self.maxIdleMilliseconds = maxIdleMilliseconds ?? idleMilliseconds
            self.niceness = niceness
        }
    }

    private let options: Options
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options) { self.options = options }

    /// Starts the thread (once); `iteration` returns how much work it did, `onError` sees each failure.
    public func start(_ iteration: @escaping @Sendable () throws -> Int, onError: @escaping @Sendable (Error) -> Void) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let options = self.options
        let thread = Thread { [self] in
            try? options.name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            if options.niceness != 0 { _ = Posix.setThreadNice(options.niceness) }
            var backoff = 0.05
            var idle = options.idleMilliseconds
            while !stopping.load(ordering: .acquiring) {
                do {
                    if try iteration() == 0 {
                        Thread.sleep(forTimeInterval: Double(idle) / 1000)
                        idle = min(idle * 2, options.maxIdleMilliseconds)
                    } else {
                        idle = options.idleMilliseconds
                    }
                    backoff = 0.05
                } catch {
                    onError(error)
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = min(backoff * 2, 2)
                }
            }
            finished.signal()
        }
        thread.name = options.name
        thread.start()
    }

    /// Stops after the current iteration and waits for the thread.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
    }
}
