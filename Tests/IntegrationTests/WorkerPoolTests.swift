import CouponService
import Foundation
import Synchronization
import Testing

/// The worker queue keeps order and is bounded: when PostgreSQL cannot keep up, requests are
/// refused at once (503) instead of piling up without limit.
@Suite struct WorkerPoolTests {
    @Test func jobsRunInOrderAndAFullQueueRefusesAtOnce() throws {
        let pool = WorkerPool(threads: 1, conninfo: "host=127.0.0.1 port=1", redis: .tcp(host: "127.0.0.1", port: 1), maxQueued: 3)
        defer { pool.shutdown() }
        let gate = DispatchSemaphore(value: 0)
        let order = Mutex<[Int]>([])
        let finished = DispatchGroup()
        finished.enter()
        pool.submit({ _ in gate.wait() }) { _ in finished.leave() }  // occupies the only worker
        Thread.sleep(forTimeInterval: 0.1)
        for index in 1...3 {
            finished.enter()
            pool.submit({ _ in order.withLock { $0.append(index) } }) { result in
                #expect((try? result.get()) != nil)
                finished.leave()
            }
        }
        let refused = Mutex<Bool>(false)
        pool.submit({ _ in Issue.record("a job past the bound ran") }) { result in
            if case .failure(let error) = result, error is WorkerPoolOverloaded { refused.withLock { $0 = true } }
        }
        #expect(refused.withLock { $0 }, "the fourth queued job was not refused synchronously")
        gate.signal()
        #expect(finished.wait(timeout: .now() + 5) == .success)
        #expect(order.withLock { $0 } == [1, 2, 3])
    }
}
