import Foundation
import Glibc
import Synchronization
import Testing

@testable import EventLoop

@Suite struct EventLoopTests {
    @Test func timerHeapPopsInDeadlineOrder() {
        var heap = TimerHeap()
        for (deadline, id) in [(50, 1), (10, 2), (30, 3), (10, 4), (90, 5), (20, 6)] as [(UInt64, UInt64)] {
            heap.push(deadline: deadline, id: id)
        }
        var order: [UInt64] = []
        while let top = heap.pop() { order.append(top.deadline) }
        #expect(order == [10, 10, 20, 30, 50, 90])
    }

    @Test func executeRunsOnTheLoopThreadAndCurrentIsSet() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let onLoop = try await loop.submit { loop.inEventLoop && EventLoop.current === loop }
        #expect(onLoop)
        #expect(!loop.inEventLoop)
        #expect(EventLoop.current == nil)
    }

    @Test func timersFireInOrderAndCancelledOnesDoNot() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let fired = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            loop.schedule(afterMilliseconds: 30) { fired.withLock { $0.append(30) }; done.signal() }
            loop.schedule(afterMilliseconds: 10) { fired.withLock { $0.append(10) } }
            let cancelled = loop.schedule(afterMilliseconds: 20) { fired.withLock { $0.append(20) } }
            loop.cancel(cancelled)
        }
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(fired.withLock { $0 } == [10, 30])
    }

    @Test func manyCrossThreadTasksAllRun() async throws {
        let group = try EventLoopGroup(count: 2)
        defer { group.shutdown() }
        let counter = Atomic<Int>(0)
        let done = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<1_000 {
                done.enter()
                group.next().execute {
                    counter.add(1, ordering: .relaxed)
                    done.leave()
                }
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(counter.load(ordering: .relaxed) == 8_000)
    }

    @Test func readinessIsReportedForRegisteredDescriptors() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        defer { close(fds[0]); close(fds[1]) }
        final class Reader: IOHandler, @unchecked Sendable {
            let fd: Int32
            let received = Mutex<[UInt8]>([])
            let done = DispatchSemaphore(value: 0)
            init(fd: Int32) { self.fd = fd }
            func readable() {
                var buffer = [UInt8](repeating: 0, count: 16)
                let count = read(fd, &buffer, 16)
                if count > 0 { received.withLock { $0 += buffer[0..<count] }; done.signal() }
            }
            func writable() {}
        }
        let readFD = fds[0]
        let reader = Reader(fd: readFD)
        try await loop.submit { try loop.register(fd: readFD, interest: .read, handler: reader) }
        var bytes: [UInt8] = [1, 2, 3]
        #expect(write(fds[1], &bytes, 3) == 3)
        #expect(reader.done.wait(timeout: .now() + 5) == .success)
        #expect(reader.received.withLock { $0 } == [1, 2, 3])
        try await loop.submit { loop.unregister(fd: readFD) }
    }

    @Test func syscallHelperMapsWouldBlockAndErrors() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        defer { close(fds[0]); close(fds[1]) }
        var buffer = [UInt8](repeating: 0, count: 4)
        let result = try Syscall.call("read") { read(fds[0], &buffer, 4) }
        guard case .wouldBlock = result else {
            Issue.record("expected wouldBlock")
            return
        }
        #expect(throws: IOError(errnoCode: EBADF, function: "read")) {
            _ = try Syscall.call("read") { read(-1, &buffer, 4) }
        }
    }
}
