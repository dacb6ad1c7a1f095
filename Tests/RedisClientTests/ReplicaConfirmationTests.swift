import EventLoop
import Foundation
import Testing
import TestSupport
@testable import RedisClient

/// `ReplicaConfirmation` (a command followed by `WAIT`, pure) and `RedisConnection.evalScript(…confirmedBy:)`
/// against a real master with a real replica.
@Suite struct ReplicaConfirmationTests {
    let reply = RESPValue.array([.array([.bulkString(Array("granted".utf8))])])
    var shortfallOfOne: RedisError { .unconfirmed(ReplicaShortfall(acknowledged: 0, required: 1, reply: reply)) }

    @Test func commandThenWaitConfirmed() {
        var machine = ReplicaConfirmation(required: 1)
        #expect(machine.commandReplied(.success(reply)) == .none)
        #expect(machine.waitReplied(.success(.integer(1))) == .deliver(.success(reply)))
        #expect(machine.waitReplied(.success(.integer(1))) == .none)
    }

    @Test func moreReplicasThanAskedStillConfirm() {
        var machine = ReplicaConfirmation(required: 2)
        _ = machine.commandReplied(.success(reply))
        #expect(machine.waitReplied(.success(.integer(3))) == .deliver(.success(reply)))
    }

    @Test func tooFewReplicasInTimeIsUnconfirmedWithTheReply() {
        var machine = ReplicaConfirmation(required: 2)
        _ = machine.commandReplied(.success(reply))
        #expect(
            machine.waitReplied(.success(.integer(1)))
                == .deliver(.failure(.unconfirmed(ReplicaShortfall(acknowledged: 1, required: 2, reply: reply)))))
    }

    @Test func aFailedWaitIsUnconfirmed() {
        var machine = ReplicaConfirmation(required: 1)
        _ = machine.commandReplied(.success(reply))
        #expect(machine.waitReplied(.failure(.connectionLost)) == .deliver(.failure(shortfallOfOne)))
        var onReplica = ReplicaConfirmation(required: 1)
        _ = onReplica.commandReplied(.success(reply))
        let error = RedisError.server(RedisServerError(message: "ERR WAIT cannot be used with replica instances."))
        #expect(onReplica.waitReplied(.failure(error)) == .deliver(.failure(shortfallOfOne)))
    }

    @Test func aFailedCommandIsDeliveredAtOnceAndItsWaitIgnored() {
        var machine = ReplicaConfirmation(required: 1)
        let moved = RedisError.server(RedisServerError(message: "MOVED 3999 127.0.0.1:7001"))
        #expect(machine.commandReplied(.failure(moved)) == .deliver(.failure(moved)))
        #expect(machine.waitReplied(.success(.integer(1))) == .none)
    }

    /// NOSCRIPT: the script is loaded and re-sent behind the WAIT, whose reply then comes first
    /// and does not cover it: a second WAIT is asked for, and only its reply confirms.
    @Test func aWaitAnsweredBeforeTheCommandIsSentAgain() {
        var machine = ReplicaConfirmation(required: 1)
        #expect(machine.waitReplied(.success(.integer(1))) == .none)
        #expect(machine.commandReplied(.success(reply)) == .sendWait)
        #expect(machine.waitReplied(.success(.integer(0))) == .deliver(.failure(shortfallOfOne)))
    }

    /// Group commit: the calls of a turn share one WAIT; calls sent while it is on the wire
    /// wait for the next one, sent when it answers; nothing is sent when nobody waits.
    @Test func waitsAreGroupedPerTurnAndOneAtATime() {
        var groups = ReplicaWaitGroups<Int>()
        #expect(groups.add(1) == true)  // schedule the end-of-turn flush once
        #expect(groups.add(2) == false)
        #expect(groups.endOfTurn() == [1, 2])
        #expect(groups.add(3) == false)  // a WAIT is on the wire: no flush, wait for its answer
        #expect(groups.add(4) == false)
        #expect(groups.endOfTurn() == [])
        let first = groups.answered()
        #expect(first.covered == [1, 2])
        #expect(first.sendNow == [3, 4])
        let second = groups.answered()
        #expect(second.covered == [3, 4])
        #expect(second.sendNow == [])
        #expect(groups.endOfTurn() == [])
        #expect(groups.add(5) == true)
        #expect(groups.endOfTurn() == [5])
        #expect(groups.answered().covered == [5])
    }

    /// NOSCRIPT with in-order completions (`PipelineOrder`): the re-sent script's reply comes
    /// first, flagged `resent`; the WAIT that followed its first send is stale and ignored.
    @Test func aResentCommandIgnoresTheStaleWait() {
        var machine = ReplicaConfirmation(required: 1)
        #expect(machine.commandReplied(.success(reply), resent: true) == .sendWait)
        #expect(machine.waitReplied(.success(.integer(1))) == .none)
        #expect(machine.waitReplied(.success(.integer(1))) == .deliver(.success(reply)))
        var short = ReplicaConfirmation(required: 1)
        _ = short.commandReplied(.success(reply), resent: true)
        _ = short.waitReplied(.success(.integer(1)))
        #expect(short.waitReplied(.success(.integer(0))) == .deliver(.failure(shortfallOfOne)))
    }

    @Test func waitOffWhenNoReplicasAreAsked() {
        #expect(ReplicaWait(replicas: 0, timeoutMs: 100) == nil)
        #expect(ReplicaWait(replicas: 1, timeoutMs: 0)?.command == ["WAIT", .int(1), .int(1)])
        #expect(ReplicaWait(replicas: 2, timeoutMs: 250)?.command == ["WAIT", .int(2), .int(250)])
    }

    /// A real master and replica: confirmed while the replica follows; unconfirmed (with the
    /// script's reply) while the replica is blocked (`DEBUG SLEEP`); with `SCRIPT FLUSH` first
    /// (NOSCRIPT → load → retry behind the WAIT) still confirmed by a second WAIT.
    @Test func confirmedByARealReplicaAndNotWhenItStalls() async throws {
        let master = try RedisServer.start()
        let replica = try RedisServer.start()
        try replica.client().command(["REPLICAOF", "127.0.0.1", .string(String(master.port))])
        #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.05) {
            ((try? master.client().command(["INFO", "replication"]).string) ?? "").contains("connected_slaves:1")
                && ((try? replica.client().command(["INFO", "replication"]).string) ?? "").contains("master_link_status:up")
        })
        let testLoop = try TestLoop()
        let connection = RedisConnection(endpoint: master.endpoint, loop: testLoop.loop)
        await testLoop.sync { connection.connect() }
        #expect(await testLoop.waitConnected(connection))
        let script = RedisScript("return redis.call('INCR', KEYS[1])")
        let wait = ReplicaWait(replicas: 1, timeoutMs: 200)
        func run() async -> Result<RESPValue, RedisError> {
            await testLoop.run { done in
                connection.evalScript(script, keys: ["n"], args: [], confirmedBy: wait) { done($0) }
            }
        }
        #expect(await run() == .success(.integer(1)))
        try master.client().command(["SCRIPT", "FLUSH"])
        #expect(await run() == .success(.integer(2)))

        let sleeper = Thread { _ = try? replica.client().command(["DEBUG", "SLEEP", "1"]) }
        sleeper.start()
        try await Task.sleep(nanoseconds: 100_000_000)
        let started = Date()
        let stalled = await run()
        let waited = Date().timeIntervalSince(started)
        #expect(stalled == .failure(.unconfirmed(ReplicaShortfall(acknowledged: 0, required: 1, reply: .integer(3)))))
        #expect(waited >= 0.15 && waited < 0.9, "WAIT gave up after its timeout: \(waited) s")
        // The write itself happened on the master; once the replica is back it has it too.
        #expect(try master.client().command(["GET", "n"]).int == 3)
        #expect(TestEnvironment.waitUntil(seconds: 5, interval: 0.05) { (try? replica.client().command(["GET", "n"]).int) == 3 })
        #expect(await run() == .success(.integer(4)))
        await testLoop.sync { connection.close() }
    }
}
