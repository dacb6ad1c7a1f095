import Foundation
import Synchronization
import Testing
@testable import EventLoop

@Suite struct TaskPacingTests {
    @Test func pollingRunsAgainAtOnceAndBacksOffWhileIdle() {
        var state = TaskPacing.State(.polling(idleMs: 25, maxIdleMs: 100))
        #expect(state.pacing.firstDelayMs == 0)
        #expect(state.delay(after: .worked) == 0)
        #expect([.idle, .idle, .idle, .idle].map { state.delay(after: $0) } == [25, 50, 100, 100])
        #expect(state.delay(after: .worked) == 0)
        #expect(state.delay(after: .idle) == 25)
    }

    @Test func failuresBackOffFrom50msTo2sAndResetOnSuccess() {
        var state = TaskPacing.State(.polling(idleMs: 10))
        let failing = (0..<8).map { _ in state.delay(after: .failed) }
        #expect(failing == [50, 100, 200, 400, 800, 1_600, 2_000, 2_000])
        #expect(state.delay(after: .idle) == 10)
        #expect(state.delay(after: .failed) == 50)
        #expect(state.delay(after: .worked) == 0)
        #expect(state.delay(after: .failed) == 50)
    }

    @Test func periodicWaitsTheIntervalWhateverHappened() {
        var state = TaskPacing.State(.periodic(everyMs: 30_000))
        #expect(state.pacing.firstDelayMs == 30_000)
        #expect([.worked, .idle, .failed, .failed, .worked].map { state.delay(after: $0) } == [30_000, 30_000, 30_000, 30_000, 30_000])
    }

    @Test func negativeAndInvertedBoundsAreClamped() {
        let pacing = TaskPacing(afterWorkMs: -1, idleMs: 100, maxIdleMs: 10, errorMs: -5, maxErrorMs: -1, firstDelayMs: -3)
        #expect(pacing == TaskPacing(afterWorkMs: 0, idleMs: 100, maxIdleMs: 100, errorMs: 0, maxErrorMs: 0, firstDelayMs: 0))
    }
}

@Suite struct BackgroundTaskTests {
    @Test func runsStepsOnANamedThreadAndReportsFailures() throws {
        let steps = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let names = Mutex<Set<String>>([])
        let task = BackgroundTask(.init(name: "test-task", pacing: .polling(idleMs: 1)))
        task.start({
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            names.withLock { _ = $0.insert(comm.trimmingCharacters(in: .whitespacesAndNewlines)) }
            let step = steps.add(1, ordering: .relaxed).newValue
            if step % 2 == 0 { throw CancellationError() }
            return step
        }) { _ in failures.add(1, ordering: .relaxed) }
        let deadline = Date(timeIntervalSinceNow: 10)
        while steps.load(ordering: .relaxed) < 6 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        task.stop()
        let ran = steps.load(ordering: .relaxed)
        #expect(ran >= 6)
        #expect(failures.load(ordering: .relaxed) == ran / 2)
        #expect(names.withLock { $0 } == ["test-task"])
        Thread.sleep(forTimeInterval: 0.05)
        #expect(steps.load(ordering: .relaxed) == ran)  // nothing runs after stop returned
        #expect(task.isStopping)
        #expect(!task.pause(milliseconds: 10_000))
    }

    /// Stop wakes a task waiting out a long period: the step never runs and stop returns well
    /// before the period (bound generous for a loaded machine).
    @Test func stopWakesAWaitingTask() {
        let steps = Atomic<Int>(0)
        let task = BackgroundTask(.init(name: "test-periodic", pacing: .periodic(everyMs: 600_000)))
        task.start({ steps.add(1, ordering: .relaxed); return 1 }) { _ in }
        Thread.sleep(forTimeInterval: 0.05)
        let started = Date()
        task.stop()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(steps.load(ordering: .relaxed) == 0)
    }

    @Test func stopBeforeStartAndStartAfterStopRunNothing() {
        let steps = Atomic<Int>(0)
        let task = BackgroundTask(.init(name: "test-never", pacing: .polling(idleMs: 1)))
        task.stop()
        task.start({ steps.add(1, ordering: .relaxed); return 1 }) { _ in }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(steps.load(ordering: .relaxed) == 0)
        task.stop()
    }
}
