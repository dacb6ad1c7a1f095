/// Which hash slot a command addresses on Redis Cluster: the slot of its first key. Nil for
/// keyless commands (`PING`, `SCRIPT`, `INFO`, ...), which any master can answer.
/// Every command coupond sends touches keys of one slot (one `{hash tag}`), so routing by the
/// first key is routing by all of them.
public enum RedisCommandKey {
    public static func slot(of args: [RedisArgument]) -> Int? {
        keyIndex(of: args).map { RedisClusterSlot.slot(forKey: args[$0]) } ?? scanSlot(args)
    }

    /// The index of the first key in `args`, or nil.
    public static func keyIndex(of args: [RedisArgument]) -> Int? {
        guard let name = args.first.map(upper) else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard args.count > 3, let count = Int(text(args[2])), count > 0 else { return nil }
            return 3
        case "XREAD", "XREADGROUP":
            guard let streams = args.firstIndex(where: { upper($0) == "STREAMS" }), streams + 1 < args.count else { return nil }
            return streams + 1
        case "XGROUP", "XINFO", "OBJECT", "MEMORY":
            return args.count > 2 ? 2 : nil
        case "PING", "SCRIPT", "INFO", "TIME", "CLUSTER", "ASKING", "CONFIG", "DBSIZE", "FLUSHALL", "FLUSHDB", "WAIT",
            "READONLY", "READWRITE", "COMMAND", "CLIENT", "SELECT", "AUTH", "HELLO", "ECHO", "LASTSAVE", "SAVE", "BGSAVE",
            "BGREWRITEAOF", "SLOWLOG", "LATENCY", "MULTI", "EXEC", "DISCARD", "SCAN", "DEBUG", "FUNCTION", "RANDOMKEY",
            "SWAPDB", "SHUTDOWN", "ROLE", "MONITOR", "PUBLISH", "SUBSCRIBE":
            return nil
        default:
            return args.count > 1 ? 1 : nil
        }
    }

    /// `SCAN cursor MATCH pattern` whose pattern holds a `{hash tag}`: the keys it can find all
    /// live in that tag's slot, so the scan goes to that slot's master.
    private static func scanSlot(_ args: [RedisArgument]) -> Int? {
        guard let name = args.first.map(upper), name == "SCAN",
            let match = args.firstIndex(where: { upper($0) == "MATCH" }), match + 1 < args.count
        else { return nil }
        let pattern = Array(text(args[match + 1]).utf8)
        let tagged = RedisClusterSlot.hashedPart(of: pattern)
        guard tagged.count != pattern.count, !tagged.contains(where: { "*?[\\".utf8.contains($0) }) else { return nil }
        return RedisClusterSlot.slot(forKey: pattern)
    }

    private static func text(_ argument: RedisArgument) -> String {
        var bytes: [UInt8] = []
        argument.append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func upper(_ argument: RedisArgument) -> String { text(argument).uppercased() }
}
