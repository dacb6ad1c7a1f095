import Foundation
import Synchronization

/// A fixed set of event loops, each running on its own thread (one per core by default).
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let finished: DispatchGroup
    private let cursor = Atomic<Int>(0)

    public init(count: Int = ProcessInfo.processInfo.activeProcessorCount, namePrefix: String = "loop") throws {
        var loops: [EventLoop] = []
        for index in 0..<max(count, 1) {
            loops.append(try EventLoop(name: "\(namePrefix)-\(index)"))
        }
        self.loops = loops
        self.finished = DispatchGroup()
        let started = DispatchSemaphore(value: 0)
        for loop in loops {
            finished.enter()
            let group = finished
            let thread = Thread {
                loop.execute { started.signal() }
                loop.run()
                group.leave()
            }
            thread.name = loop.name
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in loops { started.wait() }
    }

    /// Loops in round-robin order.
    public func next() -> EventLoop {
        loops[cursor.add(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Stops every loop and waits for their threads to return.
    public func shutdown() {
        for loop in loops { loop.stop() }
        finished.wait()
    }
}

/// A value that may only be touched on one event loop (after NIO's `NIOLoopBound`).
public struct LoopBound<Value>: @unchecked Sendable {  // access is checked against the owning loop
    private let box: Box
    public let loop: EventLoop

    private final class Box { var value: Value; init(_ value: Value) { self.value = value } }

    public init(_ value: Value, loop: EventLoop) {
        self.box = Box(value)
        self.loop = loop
    }

    public var value: Value {
        get { loop.preconditionInEventLoop(); return box.value }
        nonmutating set { loop.preconditionInEventLoop(); box.value = newValue }
    }
}
