/// Where a Redis server listens. Use a numeric host: hiredis resolves names with a blocking call.
public enum RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// `.tcp("127.0.0.1", 6379)`.
    public static func tcp(_ host: String, _ port: Int) -> RedisEndpoint { .tcp(host: host, port: port) }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}

/// Tuning of an event-loop `RedisConnection`.
public struct RedisConnectionOptions: Sendable, Equatable {
    /// A command without a reply after this long drops the connection (hiredis 0.14 has no async timeouts).
    public var commandTimeoutMs: Int
    /// A non-blocking connect still pending after this long is abandoned and retried.
    public var connectTimeoutMs: Int
    /// First delay before reconnecting; doubles after each failed attempt up to `reconnectMaxMs`.
    public var reconnectMinMs: Int
    public var reconnectMaxMs: Int

    public init(commandTimeoutMs: Int = 1000, connectTimeoutMs: Int = 1000, reconnectMinMs: Int = 20, reconnectMaxMs: Int = 2000) {
        self.commandTimeoutMs = commandTimeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.reconnectMinMs = reconnectMinMs
        self.reconnectMaxMs = reconnectMaxMs
    }
}

/// Where a node finds Redis: one server, or a Redis Cluster reached through seed nodes.
public enum RedisDeployment: Sendable, Hashable, CustomStringConvertible {
    case standalone(RedisEndpoint)
    case cluster([RedisEndpoint])

    public var description: String {
        switch self {
        case .standalone(let endpoint): return endpoint.description
        case .cluster(let seeds): return "cluster:" + seeds.map(\.description).joined(separator: ",")
        }
    }
}
