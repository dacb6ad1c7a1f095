import CSystem
import Foundation
import Glibc
import Synchronization
import Testing

@testable import EventLoop

/// The per-turn hooks and the lazily applied epoll interest (issue 15).
@Suite struct BeforeSleepTests {
    @Test func beforeSleepRunsAfterTheTurnsTasksAndHooksRunEveryTurn() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let order = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            loop.beforeSleep { order.withLock { $0.append("before sleep") }; done.signal() }
            loop.execute { order.withLock { $0.append("task queued on the loop") } }
            order.withLock { $0.append("task") }
        }
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(order.withLock { $0 } == ["task", "task queued on the loop", "before sleep"])

        // A persistent hook runs once per turn until removed.
        let turns = Atomic<Int>(0)
        let hook = try await loop.submit { loop.addBeforeSleepHook { turns.add(1, ordering: .relaxed) } }
        for _ in 0..<3 { _ = try await loop.submit { 0 } }
        let counted = turns.load(ordering: .relaxed)
        #expect(counted >= 3)
        try await loop.submit { loop.removeBeforeSleepHook(hook) }
        for _ in 0..<3 { _ = try await loop.submit { 0 } }
        #expect(turns.load(ordering: .relaxed) <= counted + 1)
    }

    @Test func aTurnIsTimedFromTheWaitsReturnToItsEndAndALongOneLandsInItsBucket() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        func snapshot() -> (cumulative: [Int], count: Int, sum: Int) { loop.turnMicros.snapshot() }
        let bounds = loop.turnMicros.bounds
        let over25ms = { (s: (cumulative: [Int], count: Int, sum: Int)) in s.count - s.cumulative[bounds.firstIndex(of: 25_000)!] }
        let before = snapshot()
        // One task that keeps the loop busy for 30 ms: its turn takes at least that long.
        _ = try await loop.submit { usleep(30_000); return 0 }
        _ = try await loop.submit { 0 }  // the busy turn has ended and been recorded
        let after = snapshot()
        #expect(after.count > before.count)
        #expect(over25ms(after) - over25ms(before) == 1)
        #expect(after.sum - before.sum >= 30_000)
        // Quick turns land in the low buckets: 20 more turns, none of them long.
        for _ in 0..<20 { _ = try await loop.submit { 0 } }
        let quiet = snapshot()
        #expect(quiet.count >= after.count + 20)
        #expect(over25ms(quiet) == over25ms(after))
    }

    final class Writer: IOHandler, @unchecked Sendable {
        let fd: Int32
        let loop: EventLoop
        var pending: [UInt8] = []
        var writableCalls = 0
        init(fd: Int32, loop: EventLoop) { self.fd = fd; self.loop = loop }
        func readable() {}
        func writable() {
            writableCalls += 1
            if !pending.isEmpty {
                let count = write(fd, pending, pending.count)
                if count > 0 { pending.removeFirst(count) }
            }
            loop.setInterest(fd: fd, pending.isEmpty ? .read : [.read, .write])
        }
    }

    @Test func interestChangesThatCancelOutCostNoEpollCtlAndPendingWritesGoOutBeforeSleep() async throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        defer { close(fds[0]); close(fds[1]) }
        let ours = fds[0]
        let writer = Writer(fd: ours, loop: loop)
        // Registered wanting write: epoll reports it writable once, the handler drops write.
        let registered = try await loop.submit {
            try loop.register(fd: ours, interest: [.read, .write], handler: writer)
            return loop.epollControlCount
        }
        for _ in 0..<3 { _ = try await loop.submit { 0 } }
        let afterFirstWrite = try await loop.submit { (loop.epollControlCount, writer.writableCalls, loop.interest(fd: ours)) }
        #expect(afterFirstWrite.0 == registered + 1)  // one MOD: write interest dropped
        #expect(afterFirstWrite.1 == 1)
        #expect(afterFirstWrite.2 == .read)

        // Toggling within a turn: nothing reaches epoll.
        let toggled = try await loop.submit {
            loop.setInterest(fd: ours, [])
            loop.setInterest(fd: ours, .read)
            return loop.epollControlCount
        }
        _ = try await loop.submit { 0 }
        #expect(try await loop.submit { loop.epollControlCount } == toggled)

        // A write queued during a turn goes out before the loop sleeps: no epoll_ctl, no EPOLLOUT round.
        let before = try await loop.submit {
            writer.pending = Array("hello".utf8)
            loop.setInterest(fd: ours, [.read, .write])
            return loop.epollControlCount
        }
        var received = [UInt8](repeating: 0, count: 16)
        let count = read(fds[1], &received, 16)
        #expect(Array(received[0..<max(count, 0)]) == Array("hello".utf8))
        let after = try await loop.submit { (loop.epollControlCount, writer.writableCalls, loop.interest(fd: ours)) }
        #expect(after.0 == before)
        #expect(after.1 == 2)
        #expect(after.2 == .read)
        try await loop.submit { loop.unregister(fd: ours) }
    }

    @Test func posixWrappersNameTheirCalls() throws {
        #expect(throws: IOError(errnoCode: EBADF, function: "read")) {
            var byte: UInt8 = 0
            _ = try withUnsafeMutableBytes(of: &byte) { buffer throws(IOError) in try Posix.read(-1, into: buffer) }
        }
        #expect(throws: IOError(errnoCode: EBADF, function: "epoll_ctl(MOD)")) {
            try Posix.epollCtl(-1, EPOLL_CTL_MOD, 0, mask: 0)
        }
        // A thread may lower its own priority (raise its nice value) without privilege.
        let nice = Mutex<(Bool, Int32)>((false, 0))
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let lowered = Posix.setThreadNice(10)
            nice.withLock { $0 = (lowered, Posix.threadNice()) }
            done.signal()
        }
        thread.start()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(nice.withLock { $0.0 } == true)
        #expect(nice.withLock { $0.1 } == 10)
    }
}
