import CSystem
import Glibc
import Synchronization

/// Something that owns a file descriptor registered with an `EventLoop`.
/// Both methods are called on the loop's thread. Errors and hang-ups are reported as
/// readable: the next read tells the handler what happened.
public protocol IOHandler: AnyObject {
    func readable()
    func writable()
}

/// Interest in readiness of a file descriptor.
public struct IOInterest: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = IOInterest(rawValue: 1)
    public static let write = IOInterest(rawValue: 2)
}

/// A scheduled timer, cancellable from its loop.
public struct TimerID: Hashable, Sendable {
    fileprivate let value: UInt64
}

/// An epoll reactor running on one thread. It owns the sockets registered with it, its timers
/// and a queue of tasks other threads hand it; it must not block on anything but `epoll_wait`.
public final class EventLoop: @unchecked Sendable {  // state is confined to the loop thread; `tasks` is behind a Mutex
    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [Int32: Registration] = [:]
    private var timers = TimerHeap()
    private var timerBodies: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let wakeupPending = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private var threadID: pthread_t?
    public let name: String

    private struct Registration {
        let handler: IOHandler
        var interest: IOInterest
    }

    public init(name: String = "loop") throws(IOError) {
        self.name = name
        epollFD = try Syscall.blocking("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        wakeFD = try Syscall.blocking("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        var event = epoll_event()
        event.events = UInt32(csystem_epollin())
        event.data.fd = wakeFD
        try Syscall.blocking("epoll_ctl") { epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) }
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    // MARK: Thread confinement

    /// The loop running on the calling thread, if any.
    public static var current: EventLoop? {
        guard let pointer = csystem_current_loop() else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    public var inEventLoop: Bool {
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    @inline(__always)
    public func preconditionInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inEventLoop, "not on event loop \(name)", file: file, line: line)
    }

    // MARK: File descriptors

    public func register(fd: Int32, interest: IOInterest, handler: IOHandler) throws(IOError) {
        preconditionInEventLoop()
        var event = epoll_event()
        event.events = Self.epollMask(interest)
        event.data.fd = fd
        try Syscall.blocking("epoll_ctl(ADD)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
        handlers[fd] = Registration(handler: handler, interest: interest)
    }

    public func setInterest(fd: Int32, _ interest: IOInterest) {
        preconditionInEventLoop()
        guard var registration = handlers[fd], registration.interest != interest else { return }
        var event = epoll_event()
        event.events = Self.epollMask(interest)
        event.data.fd = fd
        _ = try? Syscall.blocking("epoll_ctl(MOD)") { epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) }
        registration.interest = interest
        handlers[fd] = registration
    }

    /// Forgets the descriptor; the caller still owns it and closes it.
    public func unregister(fd: Int32) {
        preconditionInEventLoop()
        guard handlers.removeValue(forKey: fd) != nil else { return }
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
    }

    private static func epollMask(_ interest: IOInterest) -> UInt32 {
        var mask: Int32 = csystem_epollrdhup()
        if interest.contains(.read) { mask |= csystem_epollin() }
        if interest.contains(.write) { mask |= csystem_epollout() }
        return UInt32(bitPattern: mask)
    }

    // MARK: Timers

    /// Runs `body` on this loop after `nanoseconds`. Call on the loop.
    @discardableResult
    public func schedule(afterNanoseconds nanoseconds: UInt64, _ body: @escaping () -> Void) -> TimerID {
        preconditionInEventLoop()
        let id = nextTimerID
        nextTimerID += 1
        timers.push(deadline: MonotonicClock.now() &+ nanoseconds, id: id)
        timerBodies[id] = body
        return TimerID(value: id)
    }

    @discardableResult
    public func schedule(afterMilliseconds ms: Int, _ body: @escaping () -> Void) -> TimerID {
        schedule(afterNanoseconds: UInt64(max(ms, 0)) * 1_000_000, body)
    }

    public func cancel(_ timer: TimerID) {
        preconditionInEventLoop()
        timerBodies.removeValue(forKey: timer.value)
    }

    // MARK: Cross-thread tasks

    /// Runs `task` on the loop thread soon; callable from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Runs `body` on the loop and returns its result to an async caller.
    public func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            execute {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        threadID = pthread_self()
        csystem_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        defer { csystem_set_current_loop(nil) }
        running.store(true, ordering: .releasing)
        let capacity = 512
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while running.load(ordering: .acquiring) {
            let count = wait(events, capacity: Int32(capacity), timeoutNanos: nextTimeoutNanoseconds())
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    let fd = event.data.fd
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                        continue
                    }
                    let mask = Int32(bitPattern: event.events)
                    if mask & (csystem_epollin() | csystem_epollerr() | csystem_epollhup() | csystem_epollrdhup()) != 0 {
                        handlers[fd]?.handler.readable()
                    }
                    if mask & csystem_epollout() != 0, let registration = handlers[fd],
                        registration.interest.contains(.write)
                    {
                        registration.handler.writable()
                    }
                }
            }
            runDueTimers()
            runTasks()
        }
        runTasks()
    }

    /// Asks the loop to return from `run()`; callable from any thread.
    public func stop() {
        running.store(false, ordering: .releasing)
        execute {}
    }

    private func runTasks() {
        wakeupPending.store(false, ordering: .releasing)
        let pending = tasks.withLock { queue -> [@Sendable () -> Void] in
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            return taken
        }
        for task in pending { task() }
    }

    /// Nanoseconds until the next timer (0 when tasks wait, nil when nothing is scheduled).
    private func nextTimeoutNanoseconds() -> UInt64? {
        if tasks.withLock({ !$0.isEmpty }) { return 0 }
        while let top = timers.peek(), timerBodies[top.id] == nil { _ = timers.pop() }
        guard let top = timers.peek() else { return nil }
        let now = MonotonicClock.now()
        return top.deadline <= now ? 0 : min(top.deadline - now, 60_000_000_000)
    }

    /// `epoll_pwait2` sleeps with nanosecond precision, so sub-millisecond timers fire on time;
    /// kernels without it (before 5.11) fall back to `epoll_wait`, rounding up to milliseconds.
    private func wait(_ events: UnsafeMutablePointer<epoll_event>, capacity: Int32, timeoutNanos: UInt64?) -> Int32 {
        if Self.hasPwait2 {
            guard let nanos = timeoutNanos else { return epoll_pwait2(epollFD, events, capacity, nil, nil) }
            var timeout = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
            let count = epoll_pwait2(epollFD, events, capacity, &timeout, nil)
            if count >= 0 || errno != ENOSYS { return count }
            Self.hasPwait2 = false
        }
        let milliseconds = timeoutNanos.map { Int32(($0 + 999_999) / 1_000_000) } ?? -1
        return epoll_wait(epollFD, events, capacity, milliseconds)
    }

    nonisolated(unsafe) private static var hasPwait2 = true  // only ever flips to false, racing writers agree

    private func runDueTimers() {
        let now = MonotonicClock.now()
        while let top = timers.peek(), top.deadline <= now {
            _ = timers.pop()
            if let body = timerBodies.removeValue(forKey: top.id) { body() }
        }
    }
}

/// A binary min-heap of timer deadlines.
struct TimerHeap {
    private var items: [(deadline: UInt64, id: UInt64)] = []

    func peek() -> (deadline: UInt64, id: UInt64)? { items.first }

    mutating func push(deadline: UInt64, id: UInt64) {
        items.append((deadline, id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent].deadline <= items[child].deadline { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> (deadline: UInt64, id: UInt64)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
