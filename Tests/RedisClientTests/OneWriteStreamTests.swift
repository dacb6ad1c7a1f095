import Testing
import TestSupport
@testable import RedisClient

/// `OneWrite` (many writes in one `MULTI … EXEC`) and `BlockingRedisConnection.stream` (groups
/// of commands with a window in flight), on a real Redis.
@Suite struct OneWriteStreamTests {
    @Test func oneWriteAnswersEveryCommandInItsSlot() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        let results = try redis.pipelineAsOneWrite([["SET", "a", "1"], ["INCR", "a"], ["HSET", "a", "f", "v"], ["GET", "a"]])
        #expect(results.count == 4)
        #expect(try results[0].get() == .simpleString("OK"))
        #expect(try results[1].get() == .integer(2))
        #expect(results[2] == .failure(.server(RedisServerError(message: "WRONGTYPE Operation against a key holding the wrong kind of value"))))
        #expect(try results[3].get() == .bulkString(Array("2".utf8)))
        // A command refused when queued aborts the transaction: it gets its own error, the others EXECABORT; nothing ran.
        let aborted = try redis.pipelineAsOneWrite([["SET", "b", "1"], ["NOSUCHCOMMAND"], ["SET", "c", "1"]])
        #expect(aborted.count == 3)
        #expect((try? aborted[0].get()) == nil)
        if case .failure(let error) = aborted[0] { #expect(error.serverError?.prefix == .execabort) }
        if case .failure(let error) = aborted[1] { #expect(error.serverError?.prefix == .err) } else { Issue.record("expected an error") }
        #expect(try redis.command(["EXISTS", "b", "c"]) == .integer(0))
        // A plain command after either: the connection is in its normal state.
        #expect(try redis.command(["GET", "a"]).string == "2")
    }

    @Test func oneWriteRepliesMapsEveryShape() {
        let ok = Result<RESPValue, RedisError>.success(.simpleString("OK"))
        let queued = Result<RESPValue, RedisError>.success(.simpleString("QUEUED"))
        let exec = Result<RESPValue, RedisError>.success(.array([.integer(1), .error(RedisServerError(message: "ERR no"))]))
        #expect(OneWrite.wrap([["INCR", "a"], ["INCR", "b"]]).count == 4)
        #expect(OneWrite.replies([ok, queued, queued, exec], of: 2) == [.success(.integer(1)), .failure(.server(RedisServerError(message: "ERR no")))])
        #expect(OneWrite.replies([ok, queued], of: 2).count == 2)
        #expect(OneWrite.replies([ok, queued], of: 2).allSatisfy { if case .failure(.protocolError) = $0 { true } else { false } })
        let null = Result<RESPValue, RedisError>.success(.null)
        #expect(OneWrite.replies([ok, queued, null], of: 1).allSatisfy { if case .failure(.protocolError) = $0 { true } else { false } })
    }

    /// 50 groups through a window of 3: replies arrive in order, each group's replies together, and a
    /// group added by a reply (as a bulk batch adds a call's hints) is sent before the stream ends.
    @Test func streamKeepsOrderAndTakesGroupsAddedByReplies() throws {
        let server = try RedisServer.start()
        let redis = try server.client()
        var queue: [[[RedisArgument]]] = (1...50).map { n in [["INCRBY", "total", .int(Int64(n))], ["RPUSH", "order", .int(Int64(n))]] }
        var sent = 0
        var replies: [[Result<RESPValue, RedisError>]] = []
        var followUpAdded = false
        try redis.stream(
            window: 3,
            next: {
                guard !queue.isEmpty else { return nil }
                sent += 1
                return queue.removeFirst()
            },
            replies: { group in
                replies.append(group)
                if replies.count == 10 && !followUpAdded {
                    followUpAdded = true
                    queue.append([["SET", "follow-up", "yes"]])
                }
            })
        #expect(sent == 51)
        #expect(replies.count == 51)
        var total: Int64 = 0
        for (index, group) in replies.prefix(50).enumerated() {
            total += Int64(index + 1)
            #expect(group.count == 2)
            #expect(try group[0].get() == .integer(total))
            #expect(try group[1].get() == .integer(Int64(index + 1)))
        }
        #expect(try replies[50][0].get() == .simpleString("OK"))
        #expect(try redis.command(["GET", "follow-up"]).string == "yes")
        #expect(try redis.command(["LRANGE", "order", 0, -1]).array?.compactMap(\.int) == Array(1...50))
    }

    /// A closure that throws ends the stream with its error; the connection (replies outstanding)
    /// is replaced and the next call works.
    @Test func streamStopsOnAThrowingReplyAndRecovers() throws {
        struct Stop: Error {}
        let server = try RedisServer.start()
        let redis = try server.client()
        var n: Int64 = 0
        #expect(throws: Stop.self) {
            try redis.stream(
                window: 4,
                next: {
                    n += 1
                    return n <= 20 ? [["INCR", "k"]] : nil
                },
                replies: { group in if try group[0].get() == .integer(2) { throw Stop() } })
        }
        #expect(try redis.command(["PING"]) == .simpleString("PONG"))
        #expect(try redis.command(["GET", "k"]).int! >= 2)
    }
}
