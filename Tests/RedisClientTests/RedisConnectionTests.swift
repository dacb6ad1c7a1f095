import EventLoop
import Foundation
import Testing
import TestSupport
@testable import RedisClient

/// Connection up/down notifications, only touched on the test loop.
private final class StateLog: @unchecked Sendable {
    var values: [Bool] = []
}

@Suite struct RedisConnectionTests {
    private func connect(_ server: RedisServer, _ testLoop: TestLoop, options: RedisConnectionOptions = RedisConnectionOptions()) async -> RedisConnection {
        let connection = RedisConnection(endpoint: server.endpoint, loop: testLoop.loop, options: options)
        await testLoop.sync { connection.connect() }
        return connection
    }

    @Test func replyTypesConvert() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        // Sent right after connect(): queued while connecting, written once connected.
        let results = await testLoop.send(redis, [
            ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["INCR", "n"], ["INCRBY", "n", -3],
            ["RPUSH", "l", "a", .bytes([0, 1])], ["LRANGE", "l", 0, -1], ["INCR", "l"], ["NOSUCH"],
        ])
        #expect(try results[0].get() == .simpleString("OK"))
        #expect(try results[1].get() == .bulkString([118]))
        #expect(try results[2].get() == .null)
        #expect(try results[3].get() == .integer(1))
        #expect(try results[4].get() == .integer(-2))
        #expect(try results[5].get() == .integer(2))
        #expect(try results[6].get() == .array([.bulkString([97]), .bulkString([0, 1])]))
        #expect(results[7] == .failure(.server(RedisServerError(message: "WRONGTYPE Operation against a key holding the wrong kind of value"))))
        guard case .failure(.server(let error)) = results[8] else { Issue.record("expected ERR"); return }
        #expect(error.prefix == .err)
        #expect(await testLoop.sync { redis.isConnected })
        await testLoop.sync { redis.close() }
    }

    /// The connection's timers hold it strongly (no weak references, so no side table on the
    /// claim path): closing must cancel them, or a closed connection would live on until its
    /// command timeout, a closed but never-connected one would reconnect.
    @Test func aClosedConnectionIsReleasedThoughItsTimersHeldIt() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        weak var connected: RedisConnection?
        weak var neverConnected: RedisConnection?
        do {
            let redis = await connect(server, testLoop, options: RedisConnectionOptions(commandTimeoutMs: 60_000))
            #expect(await testLoop.waitConnected(redis))
            _ = await testLoop.send(redis, [["PING"]])  // arms the 60 s command timeout check
            // A server that refuses: the connection waits to reconnect, on a timer.
            let refused = RedisConnection(endpoint: .tcp("127.0.0.1", 1), loop: testLoop.loop)
            await testLoop.sync { refused.connect() }
            try await Task.sleep(nanoseconds: 100_000_000)
            connected = redis
            neverConnected = refused
            await testLoop.sync {
                redis.close()
                refused.close()
            }
        }
        for _ in 0..<100 where connected != nil || neverConnected != nil {
            await testLoop.sync {}  // the loop releases a closed context's self-reference in a later turn
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(connected == nil, "a closed connection is still alive")
        #expect(neverConnected == nil, "a closed, never connected connection is still alive")
    }

    @Test func tenThousandIncrsInOneTurnArePipelined() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        #expect(await testLoop.waitConnected(redis))
        let writesBefore = await testLoop.sync { redis.writeEvents }
        let results = await testLoop.send(redis, Array(repeating: ["INCR", "counter"], count: 10_000))
        let writes = await testLoop.sync { redis.writeEvents } - writesBefore
        #expect(results.count == 10_000)
        #expect(results.allSatisfy { (try? $0.get())?.int != nil })
        #expect(try results.last?.get() == .integer(10_000))
        #expect(try server.client().command(["GET", "counter"]).int == 10_000)
        #expect(writes < 100, "\(writes) write events for 10,000 commands")
        await testLoop.sync { redis.close() }
    }

    @Test func evalShaLoadsOnNoscriptAndAfterFlush() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        func eval(_ amount: Int64) async -> Result<RESPValue, RedisError> {
            await testLoop.run { done in redis.evalScript(script, keys: ["c"], args: [.int(amount)]) { done($0) } }
        }
        #expect(try server.client().command(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
        #expect(await eval(5) == .success(.integer(5)))
        #expect(await eval(5) == .success(.integer(10)))
        try server.client().command(["SCRIPT", "FLUSH"])
        #expect(await eval(1) == .success(.integer(11)))
        let broken = RedisScript("this is not lua")
        let failure = await testLoop.run { done in redis.evalScript(broken) { done($0) } }
        guard case .failure(.server(let error)) = failure else { Issue.record("expected a compile error"); return }
        #expect(error.prefix == .err)
        await testLoop.sync { redis.close() }
    }

    /// After a SCRIPT FLUSH, script calls pipelined with a plain command behind them complete in
    /// the order they were sent, each run once (the re-sent ones hold the later replies back).
    @Test func completionsKeepSendOrderAcrossANoscriptResend() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        let script = RedisScript("return redis.call('INCR', KEYS[1])")
        #expect(await testLoop.run { done in redis.evalScript(script, keys: ["n"]) { done($0) } } == .success(.integer(1)))
        try server.client().command(["SCRIPT", "FLUSH"])
        let seen = await testLoop.run { (done: @escaping ([String]) -> Void) in
            var seen: [String] = []
            func note(_ name: String) -> (Result<RESPValue, RedisError>) -> Void {
                { result in
                    seen.append("\(name)=\(result.map { $0.int ?? -1 })")
                    if seen.count == 4 { done(seen) }
                }
            }
            redis.evalScript(script, keys: ["n"], args: [], note("eval1"))
            redis.send(["SET", "plain", "x"], note("set"))
            redis.evalScript(script, keys: ["n"], args: [], note("eval2"))
            redis.send(["GET", "plain"], note("get"))
        }
        #expect(seen.count == 4)
        #expect(seen.map { $0.prefix { $0 != "=" } } == ["eval1", "set", "eval2", "get"])
        #expect(seen[0] == "eval1=success(2)" && seen[2] == "eval2=success(3)")
        await testLoop.sync { redis.close() }
    }

    /// `evalScript(…decoding:…)` reads the reply where hiredis built it: decoded replies keep
    /// send order with copied ones across a NOSCRIPT re-send, and an error reply fails.
    @Test func decodedScriptRepliesKeepOrderAndErrorsFail() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        let script = RedisScript("return {redis.call('INCR', KEYS[1]), ARGV[1], {ARGV[2]}}")
        let read: @Sendable (RESPReplyView) -> String = { reply in
            guard let count = reply.count, count == 3, let text = reply[1].string, reply[2].count == 1 else { return "bad" }
            return "\(reply[0].value)|\(text)|\(reply[2][0].string ?? "-")|\(reply[1].withStringBytes { $0?.count ?? -1 })"
        }
        try server.client().command(["SCRIPT", "FLUSH"])
        let seen = await testLoop.run { (done: @escaping ([String]) -> Void) in
            var seen: [String] = []
            func note(_ text: String) {
                seen.append(text)
                if seen.count == 4 { done(seen) }
            }
            redis.evalScript(script, keys: ["n"], args: ["héllo", ""], decoding: read) { note("a=\($0)") }
            redis.send(["SET", "plain", "x"]) { note("set=\($0.map { $0.string ?? "" })") }
            redis.evalScript(script, keys: ["n"], args: ["b", "c"], decoding: read) { note("b=\($0)") }
            redis.evalScript(RedisScript("return redis.error_reply('ERR no')"), keys: ["n"], args: [], decoding: read) {
                note("c=\($0)")
            }
        }
        #expect(Array(seen.prefix(3)) == ["a=success(\":1|héllo||6\")", "set=success(\"OK\")", "b=success(\":2|b|c|1\")"])
        #expect(seen.count == 4 && seen[3].hasPrefix("c=failure(") && seen[3].contains("ERR no"))
        await testLoop.sync { redis.close() }
    }

    @Test func serverKilledFailsEverythingInFlightThenReconnects() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = RedisConnection(endpoint: server.endpoint, loop: testLoop.loop, options: RedisConnectionOptions(commandTimeoutMs: 5000))
        let transitions = StateLog()
        await testLoop.sync {
            redis.onConnectionStateChange = { transitions.values.append($0) }
            redis.connect()
        }
        #expect(await testLoop.waitConnected(redis))
        let started = Date()
        async let inFlight = testLoop.send(redis, [["DEBUG", "SLEEP", "2"]] + Array(repeating: ["PING"], count: 100))
        try await Task.sleep(nanoseconds: 100_000_000)
        server.kill()
        let results = await inFlight
        // connectionLost (not timeout) proves the disconnect failed them; the bound only says
        // none waited for the 5 s command timeout (generous: CI machines are shared).
        #expect(Date().timeIntervalSince(started) < 4.5)
        #expect(results.count == 101)
        #expect(results.allSatisfy { $0 == .failure(.connectionLost) })
        #expect(await testLoop.sync { redis.isConnected } == false)
        #expect(await testLoop.send(redis, [["PING"]]) == [.failure(.notConnected)])

        try server.restart()
        #expect(await testLoop.waitConnected(redis))
        #expect(await testLoop.send(redis, [["PING"]]) == [.success(.simpleString("PONG"))])
        #expect(await testLoop.sync { transitions.values } == [true, false, true])
        await testLoop.sync { redis.close() }
    }

    @Test func commandTimeoutDropsAndRecovers() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop, options: RedisConnectionOptions(commandTimeoutMs: 100))
        #expect(await testLoop.waitConnected(redis))
        let started = Date()
        let results = await testLoop.send(redis, [["DEBUG", "SLEEP", "0.5"], ["PING"]])
        let elapsed = Date().timeIntervalSince(started)
        #expect(results == [.failure(.timeout), .failure(.timeout)])
        // `.timeout` (not OK after 0.5 s) proves the timer fired; the upper bound is generous
        // because the test itself may be scheduled late on a shared machine.
        #expect(elapsed >= 0.09 && elapsed < 2, "timed out after \(elapsed) s")
        // Reconnects by itself; the server answers once its sleep is over.
        var recovered = false
        for _ in 0..<100 where !recovered {
            if await testLoop.waitConnected(redis, seconds: 2) {
                recovered = await testLoop.send(redis, [["PING"]]) == [.success(.simpleString("PONG"))]
            }
        }
        #expect(recovered)
        await testLoop.sync { redis.close() }
    }

    @Test func closeFailsInFlightAndRefusesLaterSends() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = await connect(server, testLoop)
        #expect(await testLoop.waitConnected(redis))
        let results: [Result<RESPValue, RedisError>] = await testLoop.run { done in
            var collected: [Result<RESPValue, RedisError>] = []
            for _ in 0..<3 {
                redis.send(["PING"]) { result in
                    collected.append(result)
                    if collected.count == 3 { done(collected) }
                }
            }
            redis.close()
        }
        #expect(results == Array(repeating: .failure(.connectionLost), count: 3))
        #expect(await testLoop.send(redis, [["PING"]]) == [.failure(.notConnected)])
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(await testLoop.sync { redis.isConnected } == false)
    }

    @Test func unreachableServerKeepsRetrying() async throws {
        let testLoop = try TestLoop()
        let port = TestEnvironment.freePort()
        let redis = RedisConnection(endpoint: .tcp("127.0.0.1", port), loop: testLoop.loop,
                                    options: RedisConnectionOptions(reconnectMinMs: 5, reconnectMaxMs: 20))
        let queued: [Result<RESPValue, RedisError>] = await testLoop.run { done in
            redis.connect()
            redis.send(["PING"]) { done([$0]) }
        }
        #expect(queued == [.failure(.connectionLost)])
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(await testLoop.sync { redis.isConnected } == false)
        #expect(await testLoop.sync { redis.lastConnectError } == .connectFailed("127.0.0.1:\(port): Connection refused"))
        await testLoop.sync { redis.close() }
    }
}

@Suite struct RedisConnectionReentrancyTests {
    @Test func completionsMaySendAgain() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = RedisConnection(endpoint: server.endpoint, loop: testLoop.loop)
        let last: Result<RESPValue, RedisError> = await testLoop.run { done in
            redis.connect()
            var step: ((Result<RESPValue, RedisError>) -> Void)!
            var count = 0
            step = { result in
                count += 1
                if count == 500 { done(result); step = nil; return }
                redis.send(["INCR", "chain"], step)
            }
            redis.send(["INCR", "chain"], step)
        }
        #expect(last == .success(.integer(500)))
        await testLoop.sync { redis.close() }
    }

    @Test func closeInsideACompletionFailsTheRest() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = RedisConnection(endpoint: server.endpoint, loop: testLoop.loop)
        let results: [Result<RESPValue, RedisError>] = await testLoop.run { done in
            redis.connect()
            var collected: [Result<RESPValue, RedisError>] = []
            func collect(_ result: Result<RESPValue, RedisError>) {
                collected.append(result)
                if collected.count == 4 { done(collected) }
            }
            redis.send(["PING"]) { result in
                collect(result)
                redis.close()
                redis.send(["PING"]) { collect($0) }  // refused at once
            }
            redis.send(["PING"]) { collect($0) }
            redis.send(["PING"]) { collect($0) }
        }
        // hiredis frees the context right after the callback that asked for it: the two
        // replies already read are dropped with the context.
        #expect(results == [.success(.simpleString("PONG")), .failure(.notConnected), .failure(.connectionLost), .failure(.connectionLost)])
    }

    @Test func sendFromAFailedCompletionIsRefused() async throws {
        let server = try RedisServer.start()
        let testLoop = try TestLoop()
        let redis = RedisConnection(endpoint: server.endpoint, loop: testLoop.loop, options: RedisConnectionOptions(commandTimeoutMs: 5000))
        #expect(await testLoop.sync { redis.connect(); return true })
        #expect(await testLoop.waitConnected(redis))
        async let results: [Result<RESPValue, RedisError>] = testLoop.run { done in
            var collected: [Result<RESPValue, RedisError>] = []
            redis.send(["DEBUG", "SLEEP", "2"]) { result in
                collected.append(result)
                redis.send(["PING"]) { collected.append($0); done(collected) }
            }
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        server.kill()
        #expect(await results == [.failure(.connectionLost), .failure(.notConnected)])
        await testLoop.sync { redis.close() }
    }

    @Test func unixSocketEndpoints() async throws {
        let server = try RedisServer.start(unixSocket: true)
        let endpoint = try #require(server.unixEndpoint)
        let blocking = try BlockingRedisConnection(endpoint: endpoint, timeoutSeconds: 2)
        #expect(try blocking.command(["SET", "via", "unix"]) == .simpleString("OK"))
        let testLoop = try TestLoop()
        let redis = RedisConnection(endpoint: endpoint, loop: testLoop.loop)
        await testLoop.sync { redis.connect() }
        #expect(await testLoop.send(redis, [["GET", "via"]]) == [.success(.bulkString(Array("unix".utf8)))])
        await testLoop.sync { redis.close() }
    }
}
