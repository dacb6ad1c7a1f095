/// A Lua script identified by its SHA-1, computed locally so it can be run with `EVALSHA`
/// without asking the server first. Clients load it on `NOSCRIPT` and retry once.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// Lowercase hex SHA-1 of `source`, as `SCRIPT LOAD` returns it.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }

    /// `EVALSHA sha numkeys keys... args...`
    public func evalshaCommand(keys: [RedisArgument], args: [RedisArgument]) -> [RedisArgument] {
        var command: [RedisArgument] = ["EVALSHA", .string(sha1), .int(Int64(keys.count))]
        command.reserveCapacity(3 + keys.count + args.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: args)
        return command
    }

    /// `SCRIPT LOAD source`
    public var loadCommand: [RedisArgument] { ["SCRIPT", "LOAD", .string(source)] }
}
