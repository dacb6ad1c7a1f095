import Testing
@testable import RedisClient

/// `PipelineOrder` without sockets: script loading per session, and completions in send order
/// across a `NOSCRIPT` re-send.
@Suite struct PipelineOrderTests {
    @Test func aScriptIsLoadedBeforeItsFirstCallInEachSession() {
        var order = PipelineOrder<String>()
        #expect(order.issue(script: "s1") == (0, true))
        #expect(order.issue(script: "s1") == (1, false))
        #expect(order.issue() == (2, false))
        #expect(order.issue(script: "s2") == (3, true))
        order.loadFailed("s2")
        #expect(order.issue(script: "s2") == (4, true))
        #expect(order.reset() == [])
        #expect(order.issue(script: "s1") == (5, true))
    }

    @Test func repliesBehindANoscriptWaitForItsResend() {
        var order = PipelineOrder<String>()
        for _ in 0..<4 { _ = order.issue(script: "s") }
        #expect(order.replied(0, "r0", noscript: "s") == .resend)
        #expect(order.replied(1, "r1") == .held)
        #expect(order.replied(2, "r2", noscript: "s") == .resend)
        #expect(order.replied(3, "r3") == .held)
        #expect(order.retrying == [0, 2])
        #expect(order.replied(0, "r0 again") == .release(["r0 again", "r1"]))
        #expect(order.replied(2, "r2 again") == .release(["r2 again", "r3"]))
        #expect(order.heldCount == 0)
        _ = order.issue()
        #expect(order.replied(4, "r4") == .deliverNow)
    }

    @Test func aDroppedSessionReleasesWhatItHeld() {
        var order = PipelineOrder<String>()
        for _ in 0..<2 { _ = order.issue(script: "s") }
        #expect(order.replied(0, "r0", noscript: "s") == .resend)
        #expect(order.replied(1, "r1") == .held)
        #expect(order.reset() == ["r1"])
        #expect(order.loadedScripts.isEmpty)
    }

    /// A simulated server answers a pipeline while another client flushes its scripts: every
    /// call runs once and the callers see their replies in the order they sent the commands.
    @Test func completionsKeepSendOrderAcrossAScriptFlush() {
        var pipe = SimulatedPipeline()
        pipe.eval("a", "s")  // first use: SCRIPT LOAD goes first, so a fresh server never says NOSCRIPT
        pipe.send("get1")
        pipe.serverRuns(2 + 1)
        #expect(pipe.completed == ["a", "get1"])
        pipe.eval("b", "s")
        pipe.send("get2")
        pipe.eval("c", "t")
        pipe.eval("d", "s")
        pipe.serverScripts.removeAll()  // SCRIPT FLUSH from another client, before b runs
        pipe.serverRunsEverything()
        #expect(pipe.completed == ["a", "get1", "b", "get2", "c", "d"])
        // Each call ran once; the flushed script's calls in send order. c (its own script, loaded
        // after the flush) and get2 ran on the server before b's re-send: callers cannot tell.
        #expect(pipe.executed.filter { $0.count <= 4 } == ["a", "get1", "get2", "c", "b", "d"])
        #expect(pipe.resent == ["b", "d"])
        pipe.eval("e", "s")  // the re-send loaded it again: no load before e
        #expect(pipe.wire.map(\.name) == ["e"])
    }
}

/// One connection's pipeline to a simulated Redis, driven through `PipelineOrder` the way
/// `RedisConnection` drives it (load before first use, re-send once on NOSCRIPT).
struct SimulatedPipeline {
    enum Kind { case plain, load(String), eval(String) }
    struct Command {
        let sequence: UInt64?
        let name: String
        let kind: Kind
    }

    var order = PipelineOrder<String>()
    var wire: [Command] = []
    var serverScripts: Set<String> = []
    /// What the server ran, in order (commands and loads).
    var executed: [String] = []
    var completed: [String] = []
    var resent: [String] = []

    mutating func send(_ name: String) {
        wire.append(Command(sequence: order.issue().sequence, name: name, kind: .plain))
    }

    mutating func eval(_ name: String, _ sha: String) {
        let issued = order.issue(script: sha)
        if issued.loadFirst { wire.append(Command(sequence: nil, name: "load \(sha)", kind: .load(sha))) }
        wire.append(Command(sequence: issued.sequence, name: name, kind: .eval(sha)))
    }

    mutating func serverRuns(_ count: Int) {
        for _ in 0..<count { serverRunsOne() }
    }

    mutating func serverRunsEverything() {
        while !wire.isEmpty { serverRunsOne() }
    }

    private mutating func serverRunsOne() {
        let command = wire.removeFirst()
        var noscript: String?
        switch command.kind {
        case .plain:
            executed.append(command.name)
        case .load(let sha):
            serverScripts.insert(sha)
            executed.append(command.name)
        case .eval(let sha):
            if serverScripts.contains(sha) { executed.append(command.name) } else { noscript = sha }
        }
        guard let sequence = command.sequence else { return }
        let mayResend = noscript != nil && !resent.contains(command.name)
        switch order.replied(sequence, command.name, noscript: mayResend ? noscript : nil) {
        case .deliverNow: completed.append(command.name)
        case .held: break
        case .resend:
            resent.append(command.name)
            wire.append(Command(sequence: nil, name: "load \(noscript!)", kind: .load(noscript!)))
            wire.append(Command(sequence: sequence, name: command.name, kind: command.kind))
        case .release(let names): completed += names
        }
    }
}
