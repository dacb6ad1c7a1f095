/// Redis as the event loops use it: commands and scripts sent asynchronously from one loop,
/// completed on that loop. A single `RedisConnection` is one; a cluster router that sends each
/// command to the master owning its first key (`args[1]`, or the script's first key) is another.
/// Everything above `RedisClient` that talks to Redis from a loop depends on this, not on a
/// concrete connection, so standalone and cluster deployments share one claim path.
public protocol AsyncRedis: AnyObject, Sendable {
    /// Sends one command. A server error reply completes with `.failure(.server(...))`.
    func send(_ args: [RedisArgument], _ completion: @escaping (Result<RESPValue, RedisError>) -> Void)
    /// Sends a command whose reply nobody reads (hints written after a reply): no completion
    /// is kept and the reply is not decoded.
    func sendDiscardingReply(_ args: [RedisArgument])

    /// `EVALSHA`, loading the script on `NOSCRIPT` and retrying once.
    func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument],
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void)

    /// `evalScript` followed by `WAIT` on the connection that ran it (`RedisConnection.evalScript(…confirmedBy:…)`);
    /// with `wait` nil the same as `evalScript`.
    func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], confirmedBy wait: ReplicaWait?,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void)

    /// `EVALSHA` whose reply `decode` reads in place, before any copy (the claim path's batch
    /// replies); errors and `NOSCRIPT` as for `evalScript`.
    func evalScript<T>(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], decoding decode: @escaping (RESPReplyView) -> T,
        _ completion: @escaping (Result<T, RedisError>) -> Void)

    /// Closes for good: commands in flight fail with `.connectionLost`, later sends with `.notConnected`.
    func close()
}

extension RedisConnection: AsyncRedis {}

extension AsyncRedis {
    public func sendDiscardingReply(_ args: [RedisArgument]) { send(args) { _ in } }

    /// Decodes the copied reply (a router follows redirects with copies).
    public func evalScript<T>(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], decoding decode: @escaping (RESPReplyView) -> T,
        _ completion: @escaping (Result<T, RedisError>) -> Void
    ) {
        evalScript(script, keys: keys, args: args) { result in completion(result.map { decode(RESPReplyView($0)) }) }
    }
}
