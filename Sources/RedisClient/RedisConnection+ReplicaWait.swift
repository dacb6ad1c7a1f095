extension RedisConnection {
    /// `EVALSHA` (with the `NOSCRIPT` retry of `evalScript`) followed by `wait`'s `WAIT` on this
    /// connection, pipelined. Completes with the script's reply once enough replicas confirmed
    /// it, `.failure(.unconfirmed(…))` (carrying the reply) when fewer did in time, or the
    /// script's own error. With `wait` nil it is `evalScript`.
    public func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], confirmedBy wait: ReplicaWait?,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        guard let wait else { return evalScript(script, keys: keys, args: args, completion) }
        let confirmation = ConfirmationBox(ReplicaConfirmation(required: wait.replicas))
        func perform(_ action: ReplicaConfirmation.Action) {
            switch action {
            case .none: break
            case .sendWait: sendWait()
            case .deliver(let result): completion(result)
            }
        }
        func sendWait() {
            send(wait.command) { result in perform(confirmation.value.waitReplied(result)) }
        }
        evalScript(script, keys: keys, args: args) { result in perform(confirmation.value.commandReplied(result)) }
        sendWait()
    }
}

/// The confirmation state shared by the two replies' callbacks (both run on the connection's loop).
private final class ConfirmationBox {
    var value: ReplicaConfirmation
    init(_ value: ReplicaConfirmation) { self.value = value }
}
