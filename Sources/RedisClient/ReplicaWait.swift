/// `WAIT numreplicas timeout` after a write (issue 10 §2): the write is acknowledged only once
/// `replicas` replicas of the master that ran it have it, or not at all. `WAIT` covers every
/// write made earlier on the same connection, so it is sent on the connection that ran the
/// write, right behind it in the pipeline.
public struct ReplicaWait: Sendable, Equatable {
    public let replicas: Int
    public let timeoutMs: Int

    /// nil when `replicas` is 0 (waiting is off). `timeoutMs` ≥ 1: `WAIT n 0` would block forever.
    public init?(replicas: Int, timeoutMs: Int) {
        guard replicas > 0 else { return nil }
        self.replicas = replicas
        self.timeoutMs = max(timeoutMs, 1)
    }

    public var command: [RedisArgument] { ["WAIT", .int(Int64(replicas)), .int(Int64(timeoutMs))] }
}

/// A write that ran but that fewer than `required` replicas confirmed in time. `reply` is what
/// the master answered, so a caller can still tell writes (grants) from refusals that wrote nothing.
public struct ReplicaShortfall: Sendable, Equatable {
    /// Replicas that confirmed (from `WAIT`'s reply; 0 when `WAIT` itself failed).
    public let acknowledged: Int
    public let required: Int
    public let reply: RESPValue

    public init(acknowledged: Int, required: Int, reply: RESPValue) {
        self.acknowledged = acknowledged
        self.required = required
        self.reply = reply
    }
}

/// One command followed by `WAIT` on the same connection, as a pure state machine: it takes the
/// command's reply and `WAIT`'s reply in whatever order they arrive and says what to do.
///
/// The usual order is command, then `WAIT` (they are pipelined in that order). A command re-sent
/// behind the `WAIT` (a script answered `NOSCRIPT` is loaded and retried) is not covered by it:
/// the connection reports it (`resent`, its reply is delivered before the stale `WAIT`'s), or
/// the stale `WAIT`'s reply simply comes first; either way another `WAIT` decides.
public struct ReplicaConfirmation: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case none
        /// Send `WAIT` again (the command's final reply came after the last `WAIT`'s).
        case sendWait
        case deliver(Result<RESPValue, RedisError>)
    }

    enum State: Sendable, Equatable {
        case awaitingBoth
        /// The command answered; waiting for the `WAIT` sent after it.
        case commandAnswered(RESPValue)
        /// A `WAIT` answered before the command's final reply: it does not cover the command.
        case waitAnsweredFirst
        /// The command was re-sent after a `WAIT` already on its way: that many stale `WAIT`
        /// replies are ignored, the one after them decides.
        case commandResent(RESPValue, stale: Int)
        case finished
    }

    public let required: Int
    private(set) var state: State = .awaitingBoth

    public init(required: Int) {
        self.required = required
    }

    /// `resent`: the command was sent again after the `WAIT` that followed its first send.
    public mutating func commandReplied(_ result: Result<RESPValue, RedisError>, resent: Bool = false) -> Action {
        switch (state, result) {
        case (.finished, _), (.commandAnswered, _), (.commandResent, _):
            return .none
        case (_, .failure):
            // It did not run (or may have run and the caller cannot know): nothing to confirm.
            state = .finished
            return .deliver(result)
        case (.awaitingBoth, .success(let reply)):
            if resent {
                state = .commandResent(reply, stale: 1)
                return .sendWait
            }
            state = .commandAnswered(reply)
            return .none
        case (.waitAnsweredFirst, .success(let reply)):
            state = .commandAnswered(reply)
            return .sendWait
        }
    }

    public mutating func waitReplied(_ result: Result<RESPValue, RedisError>) -> Action {
        switch state {
        case .finished, .waitAnsweredFirst:
            return .none
        case .awaitingBoth:
            state = .waitAnsweredFirst
            return .none
        case .commandResent(let reply, let stale):
            state = stale > 1 ? .commandResent(reply, stale: stale - 1) : .commandAnswered(reply)
            return .none
        case .commandAnswered(let reply):
            state = .finished
            let acknowledged: Int
            if case .success(let count) = result, let number = count.int { acknowledged = Int(number) } else { acknowledged = 0 }
            guard acknowledged < required else { return .deliver(.success(reply)) }
            return .deliver(.failure(.unconfirmed(ReplicaShortfall(acknowledged: acknowledged, required: required, reply: reply))))
        }
    }
}

/// Group commit for `WAIT` on one connection. `WAIT` blocks the connection in Redis until it
/// returns, so one `WAIT` per script call would serialize every later call behind a replica
/// round trip (and the replica's fsync). Instead: the calls of one loop turn share one `WAIT`
/// sent at the end of the turn; while a `WAIT` is on the wire, later calls still go out at once
/// and wait for the next `WAIT`, sent as soon as the current one answers. One `WAIT` covers
/// every write made before it on the connection, so each call is confirmed by the first `WAIT`
/// sent after it. Pure: the connection sends, this decides when and for whom.
public struct ReplicaWaitGroups<Waiter> {
    /// Calls covered by the `WAIT` on the wire (nil: none is).
    private(set) var onTheWire: [Waiter]?
    /// Calls sent since, waiting for the next `WAIT`.
    private(set) var next: [Waiter] = []
    private var flushScheduled = false

    public init() {}

    /// A confirmed call was sent. True: schedule `endOfTurn` (nothing is on the wire or scheduled).
    public mutating func add(_ waiter: Waiter) -> Bool {
        next.append(waiter)
        guard onTheWire == nil, !flushScheduled else { return false }
        flushScheduled = true
        return true
    }

    /// End of the turn: the calls to cover with a `WAIT` sent now (empty: send nothing).
    public mutating func endOfTurn() -> [Waiter] {
        flushScheduled = false
        guard onTheWire == nil, !next.isEmpty else { return [] }
        return launch()
    }

    /// The `WAIT` on the wire answered: the calls it covers, and those to cover with a `WAIT` sent now.
    public mutating func answered() -> (covered: [Waiter], sendNow: [Waiter]) {
        let covered = onTheWire ?? []
        onTheWire = nil
        return (covered, next.isEmpty ? [] : launch())
    }

    private mutating func launch() -> [Waiter] {
        let group = next
        next = []
        onTheWire = group
        return group
    }
}

extension ReplicaWait {
    /// A command's reply judged by the `WAIT` sent after it on the same connection (pure): the
    /// reply when `WAIT` counted at least `replicas`, `.unconfirmed` (carrying the reply) when
    /// fewer (or `WAIT` failed), the command's own error unchanged.
    public func judge(_ reply: Result<RESPValue, RedisError>, waitReply: Result<RESPValue, RedisError>) -> Result<RESPValue, RedisError> {
        guard case .success(let value) = reply else { return reply }
        let acknowledged: Int
        if case .success(let count) = waitReply, let number = count.int { acknowledged = Int(number) } else { acknowledged = 0 }
        guard acknowledged < replicas else { return reply }
        return .failure(.unconfirmed(ReplicaShortfall(acknowledged: acknowledged, required: replicas, reply: value)))
    }

    /// A reply that no `WAIT` covers (it came from a connection other than the one `WAIT` went to).
    func uncovered(_ reply: Result<RESPValue, RedisError>) -> Result<RESPValue, RedisError> {
        judge(reply, waitReply: .success(.integer(0)))
    }
}
