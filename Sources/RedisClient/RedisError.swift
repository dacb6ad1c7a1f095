/// An error reply from the server (`-PREFIX message`), with the prefix as a typed kind.
public struct RedisServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first word of an error reply.
    public enum Kind: Sendable, Equatable, Hashable {
        case err, noscript, moved, ask, tryagain, busy, wrongtype, busygroup, nogroup, loading
        case noauth, wrongpass, noperm, readonly, oom, execabort, crossslot, clusterdown, masterdown
        case unblocked, noproto
        case other(String)

        public init(prefix: String) {
            switch prefix {
            case "ERR": self = .err
            case "NOSCRIPT": self = .noscript
            case "MOVED": self = .moved
            case "ASK": self = .ask
            case "TRYAGAIN": self = .tryagain
            case "BUSY": self = .busy
            case "WRONGTYPE": self = .wrongtype
            case "BUSYGROUP": self = .busygroup
            case "NOGROUP": self = .nogroup
            case "LOADING": self = .loading
            case "NOAUTH": self = .noauth
            case "WRONGPASS": self = .wrongpass
            case "NOPERM": self = .noperm
            case "READONLY": self = .readonly
            case "OOM": self = .oom
            case "EXECABORT": self = .execabort
            case "CROSSSLOT": self = .crossslot
            case "CLUSTERDOWN": self = .clusterdown
            case "MASTERDOWN": self = .masterdown
            case "UNBLOCKED": self = .unblocked
            case "NOPROTO": self = .noproto
            default: self = .other(prefix)
            }
        }
    }

    /// The typed first word of the reply.
    public let prefix: Kind
    /// The whole error text as the server sent it, prefix included (`"NOSCRIPT No matching script..."`).
    public let message: String

    public init(message: String) {
        self.message = message
        let firstWord = message.prefix { $0 != " " }
        self.prefix = Kind(prefix: String(firstWord))
    }

    /// For `MOVED <slot> <host:port>` and `ASK <slot> <host:port>`: where the key lives now.
    public var redirection: (slot: Int, host: String, port: Int)? {
        guard prefix == .moved || prefix == .ask else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), let colon = parts[2].lastIndex(of: ":"),
            let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        return (slot, String(parts[2][..<colon]), port)
    }

    public var description: String { message }
}

/// Why a Redis command did not produce a value.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection is down (waiting to reconnect, or closed); nothing was sent.
    case notConnected
    /// The command was sent (or queued) on a connection that died before its reply arrived.
    case connectionLost
    /// No reply within the command timeout; the connection was dropped.
    case timeout
    /// The server answered with an error reply.
    case server(RedisServerError)
    /// The reply could not be parsed, or the client library failed in a way that is not I/O.
    case protocolError(String)
    /// The TCP / Unix socket connection could not be established.
    case connectFailed(String)
    /// The command ran, but fewer replicas than asked confirmed it in time (`ReplicaWait`).
    case unconfirmed(ReplicaShortfall)

    /// True when Redis is (maybe temporarily) unreachable rather than refusing the command:
    /// the API layer answers these with 503 and `Retry-After`.
    public var isUnavailable: Bool {
        switch self {
        case .notConnected, .connectionLost, .timeout, .connectFailed, .unconfirmed: return true
        case .server(let error):
            // BUSY: another script holds the server; OOM: maxmemory reached with noeviction. Neither
            // command ran (a script that hits OOM stops at its first write), so a retry is safe.
            return [.loading, .masterdown, .clusterdown, .tryagain, .busy, .oom].contains(error.prefix)
        case .protocolError: return false
        }
    }

    /// True when the connection itself is broken (not an error reply): it must be replaced.
    public var isConnectionLevel: Bool {
        switch self {
        case .notConnected, .connectionLost, .timeout, .connectFailed, .protocolError: return true
        case .server, .unconfirmed: return false
        }
    }

    /// The server error, if this is one.
    public var serverError: RedisServerError? {
        if case .server(let error) = self { return error }
        return nil
    }

    public var description: String {
        switch self {
        case .notConnected: return "redis: not connected"
        case .connectionLost: return "redis: connection lost"
        case .timeout: return "redis: command timed out"
        case .server(let error): return "redis: \(error.message)"
        case .protocolError(let text): return "redis protocol error: \(text)"
        case .connectFailed(let text): return "redis connect failed: \(text)"
        case .unconfirmed(let shortfall):
            return "redis: write confirmed by \(shortfall.acknowledged) of \(shortfall.required) replicas in time"
        }
    }
}
