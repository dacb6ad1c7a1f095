extension RedisConnection {
    /// `EVALSHA` (with the `NOSCRIPT` retry of `evalScript`) confirmed by a `WAIT` sent after it
    /// on this connection (`ReplicaWaitGroups`: one `WAIT` per loop turn, and one at a time).
    /// Completes with the script's reply once enough replicas confirmed it,
    /// `.failure(.unconfirmed(…))` (carrying the reply) when fewer did in time, or the script's
    /// own error. With `wait` nil it is `evalScript`.
    public func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], confirmedBy wait: ReplicaWait?,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        evalScript(script, keys: keys, args: args, asking: false, confirmedBy: wait, completion)
    }

    /// `asking`: for a cluster's `ASK` redirect (see `evalScript(…asking:…)`).
    func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], asking: Bool, confirmedBy wait: ReplicaWait?,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        guard let wait else { return evalScript(script, keys: keys, args: args, asking: asking, completion) }
        let confirmation = ConfirmationBox(ReplicaConfirmation(required: wait.replicas))
        func perform(_ action: ReplicaConfirmation.Action) {
            switch action {
            case .none: break
            case .sendWait: awaitReplicas()
            case .deliver(let result): completion(result)
            }
        }
        func awaitReplicas() {
            let waiter = (wait: wait, deliver: { (result: Result<RESPValue, RedisError>) in perform(confirmation.value.waitReplied(result)) })
            if replicaWaits.add(waiter) {
                loop.beforeSleep { [self] in sendWait(for: replicaWaits.endOfTurn()) }
            }
        }
        evalScript(script, keys: keys, args: args, asking: asking) { result, resent in
            perform(confirmation.value.commandReplied(result, resent: resent))
        }
        awaitReplicas()
    }

    /// One `WAIT` for `group` (the most replicas and the longest timeout any of them asked for);
    /// when it answers, the group is told and the calls sent meanwhile get the next `WAIT`.
    private func sendWait(for group: [(wait: ReplicaWait, deliver: (Result<RESPValue, RedisError>) -> Void)]) {
        guard let first = group.first?.wait else { return }
        let replicas = group.map(\.wait.replicas).max() ?? first.replicas
        let timeoutMs = group.map(\.wait.timeoutMs).max() ?? first.timeoutMs
        let command = ReplicaWait(replicas: replicas, timeoutMs: timeoutMs)?.command ?? first.command
        send(command) { [self] result in
            let (covered, sendNow) = replicaWaits.answered()
            for waiter in covered { waiter.deliver(result) }
            sendWait(for: sendNow)
        }
    }
}

/// The confirmation state shared by the two replies' callbacks (both run on the connection's loop).
private final class ConfirmationBox {
    var value: ReplicaConfirmation
    init(_ value: ReplicaConfirmation) { self.value = value }
}
