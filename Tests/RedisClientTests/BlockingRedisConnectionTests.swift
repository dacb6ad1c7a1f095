import Testing
import TestSupport
@testable import RedisClient

@Suite struct BlockingRedisConnectionTests {
    @Test func replyTypesConvert() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        #expect(try redis.command(["SET", "k", "v"]) == .simpleString("OK"))
        #expect(try redis.command(["GET", "k"]) == .bulkString(Array("v".utf8)))
        #expect(try redis.command(["GET", "k"]).string == "v")
        #expect(try redis.command(["GET", "missing"]) == .null)
        #expect(try redis.command(["INCR", "n"]) == .integer(1))
        #expect(try redis.command(["INCRBY", "n", 41]).int == 42)
        #expect(try redis.command(["GET", "n"]).int == 42)
        try redis.command(["RPUSH", "list", "a", "b", .bytes([0, 255, 10])])
        #expect(try redis.command(["LRANGE", "list", 0, -1]) == .array([.bulkString([97]), .bulkString([98]), .bulkString([0, 255, 10])]))
        #expect(try redis.command(["LRANGE", "nolist", 0, -1]) == .array([]))
        #expect(try redis.command(["SET", "", ""]) == .simpleString("OK"))
        #expect(try redis.command(["GET", ""]) == .bulkString([]))
        #expect(try redis.command(["EVAL", "return {1, 'x', {2}, false}", 0]) == .array([.integer(1), .bulkString([120]), .array([.integer(2)]), .null]))
        #expect(try redis.command(["INCRBY", "neg", -7]) == .integer(-7))
        #expect(throws: RedisError.server(RedisServerError(message: "WRONGTYPE Operation against a key holding the wrong kind of value"))) {
            try redis.command(["INCR", "list"])
        }
        do {
            try redis.command(["NOSUCHCOMMAND"])
            Issue.record("expected an error")
        } catch {
            #expect(error.serverError?.prefix == .err)
            #expect(error.isUnavailable == false)
        }
    }

    @Test func pipelineKeepsOrderAndPerCommandErrors() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        let results = try redis.pipeline([["SET", "a", 1], ["INCR", "a"], ["HSET", "a", "f", "v"], ["GET", "a"]])
        #expect(results.count == 4)
        #expect(try results[0].get() == .simpleString("OK"))
        #expect(try results[1].get() == .integer(2))
        guard case .failure(.server(let error)) = results[2] else { Issue.record("expected WRONGTYPE"); return }
        #expect(error.prefix == .wrongtype)
        #expect(try results[3].get() == .bulkString(Array("2".utf8)))
        #expect(try redis.pipeline([]).isEmpty)
    }

    @Test func evalScriptLoadsOnNoscript() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try redis.command(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
        #expect(try redis.evalScript(script, keys: ["c"], args: [5]) == .integer(5))
        #expect(try redis.command(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(1)]))
        #expect(try redis.evalScript(script, keys: ["c"], args: [5]) == .integer(10))
        try redis.command(["SCRIPT", "FLUSH"])
        #expect(try redis.evalScript(script, keys: ["c"], args: [1]) == .integer(11))
    }

    @Test func reconnectsOnNextCallAfterRestart() throws {
        let server = try RedisServer.start(appendOnly: true, appendFsyncAlways: true)
        let redis = try server.client()
        try redis.command(["SET", "durable", "yes"])
        server.kill()
        #expect(throws: RedisError.self) { try redis.command(["PING"]) }
        #expect(throws: RedisError.connectFailed("127.0.0.1:\(server.port): Connection refused")) { try redis.command(["PING"]) }
        try server.restart()
        #expect(try redis.command(["GET", "durable"]) == .bulkString(Array("yes".utf8)))
    }

    @Test func socketTimeoutThrowsTimeoutThenRecovers() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        redis.setTimeout(seconds: 0.1)
        #expect(throws: RedisError.timeout) { try redis.command(["DEBUG", "SLEEP", "0.5"]) }
        redis.setTimeout(seconds: 2)
        #expect(try redis.command(["PING"]) == .simpleString("PONG"))
    }

    @Test func connectFailureIsTyped() {
        let port = TestEnvironment.freePort()
        do {
            _ = try BlockingRedisConnection(endpoint: .tcp("127.0.0.1", port), timeoutSeconds: 1)
            Issue.record("connected to nothing")
        } catch {
            #expect(error == .connectFailed("127.0.0.1:\(port): Connection refused"))
            #expect(error.isUnavailable)
        }
    }
}
