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

/// A hook run once per loop turn, before the loop sleeps; removable by its id.
public struct BeforeSleepHookID: Hashable, Sendable {
    fileprivate let value: UInt64
}

/// An epoll reactor running on one thread. It owns the sockets registered with it, its timers
/// and a queue of tasks other threads hand it; it must not block on anything but `epoll_wait`.
///
/// One turn of the loop (redis `ae.c`'s shape):
/// 1. wait for events (`epoll_pwait2`), dispatch them; 2. run due timers; 3. run tasks
///    (`execute`); 4. **before sleep**: run the one-shot `beforeSleep(_:)` bodies and the
///    persistent hooks (`addBeforeSleepHook`) — per-turn work such as sending a batch of claims
///    collected during the turn; 5. write for every descriptor that asked for write interest
///    this turn (its handler's `writable()` runs directly: a hiredis command buffer goes out
///    with no `epoll_ctl` and no extra wakeup); 6. apply the remaining interest changes, one
///    `epoll_ctl` per descriptor whose interest really changed since the last sleep.
///
/// `execute` from the loop's own thread queues the task for step 3 of this turn without
/// touching the eventfd; from another thread it wakes the loop through the eventfd.
public final class EventLoop: @unchecked Sendable {  // state is confined to the loop thread; `tasks` is behind a Mutex
    private let epollFD: Int32
    private let wakeFD: Int32
    /// Registrations indexed by descriptor (descriptors are small, dense integers).
    private var handlers: [Registration?] = []
    private var timers = TimerHeap()
    private var timerBodies: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let tasksWaiting = Atomic<Bool>(false)
    private let wakeupPending = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private var threadID: pthread_t?
    /// Tasks `execute`d on the loop thread itself (no eventfd round trip).
    private var localTasks: [() -> Void] = []
    private var onceBeforeSleep: [() -> Void] = []
    private var hooks: [(id: UInt64, body: () -> Void)] = []
    private var nextHookID: UInt64 = 1
    /// Descriptors whose wanted interest may differ from what epoll has.
    private var dirty: [Int32] = []
    /// `epoll_ctl` calls made (ADD/MOD/DEL), for tests and benchmarks.
    public private(set) var epollControlCount = 0
    /// How long each turn's work took, in microseconds: from the wait's return through the
    /// interest changes (the wait itself excluded). Every connection of the loop waits out a
    /// turn, so a long one is a stall carried by each request in it — the node's own share of
    /// a tail latency (`coupond_loop_turn_seconds`).
    public let turnMicros = Histogram(bounds: [50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 100_000])
    public let name: String

    private struct Registration {
        let handler: IOHandler
        /// What the owner wants now.
        var wanted: IOInterest
        /// What epoll was last told.
        var applied: IOInterest
        var isDirty: Bool
        /// epoll has reported it writable at least once (so it is connected): only such
        /// descriptors get direct writes before sleep (a socket still connecting must wait).
        var hasBeenWritable = false
    }

    public init(name: String = "loop") throws(IOError) {
        self.name = name
        epollFD = try Posix.epollCreate()
        wakeFD = try Posix.eventfd()
        try Posix.epollCtl(epollFD, EPOLL_CTL_ADD, wakeFD, mask: UInt32(csystem_epollin()))
    }

    deinit {
        Posix.close(wakeFD)
        Posix.close(epollFD)
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
        try Posix.epollCtl(epollFD, EPOLL_CTL_ADD, fd, mask: Self.epollMask(interest))
        epollControlCount += 1
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index + 1 - handlers.count + 64)) }
        handlers[index] = Registration(handler: handler, wanted: interest, applied: interest, isDirty: false)
    }

    /// Changes the readiness `fd` is watched for. Takes effect before the loop next sleeps:
    /// changes that cancel out within a turn cost nothing, and a descriptor that starts
    /// wanting `.write` is first offered a direct `writable()` call (see the type's doc).
    public func setInterest(fd: Int32, _ interest: IOInterest) {
        preconditionInEventLoop()
        let index = Int(fd)
        guard index < handlers.count, handlers[index] != nil else { return }
        handlers[index]!.wanted = interest
        if !handlers[index]!.isDirty && handlers[index]!.applied != interest {
            handlers[index]!.isDirty = true
            dirty.append(fd)
        }
    }

    /// The interest last set for `fd` (nil when it is not registered).
    public func interest(fd: Int32) -> IOInterest? {
        let index = Int(fd)
        guard index >= 0, index < handlers.count else { return nil }
        return handlers[index]?.wanted
    }

    /// Forgets the descriptor; the caller still owns it and closes it.
    public func unregister(fd: Int32) {
        preconditionInEventLoop()
        let index = Int(fd)
        guard index < handlers.count, handlers[index] != nil else { return }
        handlers[index] = nil
        epollControlCount += 1
        try? Posix.epollCtl(epollFD, EPOLL_CTL_DEL, fd, mask: 0)
    }

    private static func epollMask(_ interest: IOInterest) -> UInt32 {
        var mask: Int32 = csystem_epollrdhup()
        if interest.contains(.read) { mask |= csystem_epollin() }
        if interest.contains(.write) { mask |= csystem_epollout() }
        return UInt32(bitPattern: mask)
    }

    /// Step 5 and 6 of a turn: direct writes, then one epoll_ctl per real change.
    private func applyInterestChanges() {
        guard !dirty.isEmpty else { return }
        // Direct writes first: the handler may drop its write interest again (all written).
        var index = 0
        while index < dirty.count {
            let fd = dirty[index]
            index += 1
            let slot = Int(fd)
            guard slot < handlers.count, let registration = handlers[slot], registration.isDirty,
                registration.hasBeenWritable, registration.wanted.contains(.write), !registration.applied.contains(.write)
            else { continue }
            registration.handler.writable()
        }
        for fd in dirty {
            let slot = Int(fd)
            guard slot < handlers.count, var registration = handlers[slot], registration.isDirty else { continue }
            registration.isDirty = false
            if registration.wanted != registration.applied {
                epollControlCount += 1
                if (try? Posix.epollCtl(epollFD, EPOLL_CTL_MOD, fd, mask: Self.epollMask(registration.wanted))) != nil {
                    registration.applied = registration.wanted
                }
            }
            handlers[slot] = registration
        }
        dirty.removeAll(keepingCapacity: true)
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

    // MARK: Before sleep (per-turn work)

    /// Runs `body` once, on this loop, at the end of the current turn (after its I/O events,
    /// timers and tasks, before the loop next sleeps). Call on the loop. No system call: this
    /// is how to say "when this turn's events have all been handled", e.g. to send one batch
    /// for everything collected during the turn. A body added while the before-sleep bodies run
    /// runs in that same pass.
    public func beforeSleep(_ body: @escaping () -> Void) {
        preconditionInEventLoop()
        onceBeforeSleep.append(body)
    }

    /// Runs `body` at the end of every turn, before the loop sleeps, until removed. Call on the loop.
    @discardableResult
    public func addBeforeSleepHook(_ body: @escaping () -> Void) -> BeforeSleepHookID {
        preconditionInEventLoop()
        let id = nextHookID
        nextHookID += 1
        hooks.append((id, body))
        return BeforeSleepHookID(value: id)
    }

    public func removeBeforeSleepHook(_ hook: BeforeSleepHookID) {
        preconditionInEventLoop()
        hooks.removeAll { $0.id == hook.value }
    }

    private func runBeforeSleep() {
        var rounds = 0
        repeat {
            rounds += 1
            if !onceBeforeSleep.isEmpty {
                let bodies = onceBeforeSleep
                onceBeforeSleep.removeAll(keepingCapacity: true)
                for body in bodies { body() }
            }
            for hook in hooks { hook.body() }
        } while !onceBeforeSleep.isEmpty && rounds < 64
    }

    // MARK: Cross-thread tasks

    /// Runs `task` on the loop thread soon; callable from any thread. From the loop itself the
    /// task runs in this turn's task step (or the next turn's, when queued by a task of this
    /// one), never re-entrantly, and without an eventfd wakeup.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        if inEventLoop {
            localTasks.append(task)
            return
        }
        tasks.withLock { $0.append(task) }
        tasksWaiting.store(true, ordering: .releasing)
        if !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) {
            Posix.eventfdSignal(wakeFD)
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
        let readMask = csystem_epollin() | csystem_epollerr() | csystem_epollhup() | csystem_epollrdhup()
        let writeMask = csystem_epollout()
        while running.load(ordering: .acquiring) {
            let count = Posix.epollWait(epollFD, events, capacity: Int32(capacity), timeoutNanos: nextTimeoutNanoseconds())
            let turnStart = MonotonicClock.now()
            for index in 0..<Int(count) {
                let event = events[index]
                let fd = event.data.fd
                if fd == wakeFD {
                    Posix.eventfdDrain(wakeFD)
                    continue
                }
                let slot = Int(fd)
                let mask = Int32(bitPattern: event.events)
                if mask & readMask != 0, slot < handlers.count, let registration = handlers[slot] {
                    registration.handler.readable()
                }
                if mask & writeMask != 0, slot < handlers.count, let registration = handlers[slot] {
                    if !registration.hasBeenWritable { handlers[slot]!.hasBeenWritable = true }
                    if registration.wanted.contains(.write) { registration.handler.writable() }
                }
            }
            runDueTimers()
            runTasks()
            runBeforeSleep()
            applyInterestChanges()
            turnMicros.record(Int64((MonotonicClock.now() &- turnStart) / 1_000))
        }
        runTasks()
    }

    /// Asks the loop to return from `run()`; callable from any thread.
    public func stop() {
        running.store(false, ordering: .releasing)
        if inEventLoop { return }
        execute {}
    }

    /// Cross-thread tasks, then the tasks queued on the loop so far (including by those):
    /// a task queued by a local task runs next turn, so a task that requeues itself yields.
    private func runTasks() {
        if tasksWaiting.load(ordering: .acquiring) {
            wakeupPending.store(false, ordering: .releasing)
            tasksWaiting.store(false, ordering: .releasing)
            let pending = tasks.withLock { queue -> [@Sendable () -> Void] in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            for task in pending { task() }
        }
        if !localTasks.isEmpty {
            let pending = localTasks
            localTasks.removeAll(keepingCapacity: true)
            for task in pending { task() }
        }
    }

    /// Nanoseconds until the next timer (0 when tasks wait, nil when nothing is scheduled).
    private func nextTimeoutNanoseconds() -> UInt64? {
        if !localTasks.isEmpty || !onceBeforeSleep.isEmpty || tasksWaiting.load(ordering: .acquiring) { return 0 }
        while let top = timers.peek(), timerBodies[top.id] == nil { _ = timers.pop() }
        guard let top = timers.peek() else { return nil }
        let now = MonotonicClock.now()
        return top.deadline <= now ? 0 : min(top.deadline - now, 60_000_000_000)
    }

    private func runDueTimers() {
        guard timers.peek() != nil else { return }
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
