import EventLoop
import Foundation
@testable import RedisClient

/// One event loop on its own thread for a test, and helpers to run loop-confined code from async tests.
final class TestLoop: Sendable {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init() throws { group = try EventLoopGroup(count: 1, namePrefix: "redis-test") }

    deinit { group.shutdown() }

    /// Runs `body` on the loop and waits until it calls `done`.
    func run<T: Sendable>(_ body: @escaping @Sendable (_ done: @escaping (T) -> Void) -> Void) async -> T {
        await withCheckedContinuation { continuation in
            loop.execute {
                var resumed = false
                body { value in
                    precondition(!resumed, "done called twice")
                    resumed = true
                    continuation.resume(returning: value)
                }
            }
        }
    }

    /// Runs `body` on the loop and returns its value.
    func sync<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await run { done in done(body()) }
    }

    /// Sends commands one after another in one loop turn, returns every result in order.
    func send(_ connection: RedisConnection, _ commands: [[RedisArgument]]) async -> [Result<RESPValue, RedisError>] {
        await run { done in
            var results = [Result<RESPValue, RedisError>?](repeating: nil, count: commands.count)
            var remaining = commands.count
            if remaining == 0 { done([]); return }
            for (index, command) in commands.enumerated() {
                connection.send(command) { result in
                    precondition(results[index] == nil, "completion called twice")
                    results[index] = result
                    remaining -= 1
                    if remaining == 0 { done(results.map { $0! }) }
                }
            }
        }
    }

    /// Polls until the connection reports connected, up to `seconds`.
    func waitConnected(_ connection: RedisConnection, seconds: Double = 5) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await sync({ connection.isConnected }) { return true }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return false
    }
}
