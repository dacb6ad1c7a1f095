/// `MULTI … EXEC` around commands that need no atomicity, only one write to the AOF: with
/// `appendfsync always` Redis fsyncs once per event-loop turn that wrote, and reads a pipeline
/// 16 KiB per turn, so a plain pipeline of 1 MB of small writes pays ~64 fsyncs and the same
/// commands queued in one transaction pay one (queued commands write nothing until `EXEC`).
/// Standalone servers only: on a cluster the keys of one transaction must share a slot.
public enum OneWrite {
    /// `MULTI`, `commands`, `EXEC`.
    public static func wrap(_ commands: [[RedisArgument]]) -> [[RedisArgument]] {
        var wrapped: [[RedisArgument]] = [["MULTI"]]
        wrapped.reserveCapacity(commands.count + 2)
        wrapped.append(contentsOf: commands)
        wrapped.append(["EXEC"])
        return wrapped
    }

    /// The replies of `count` wrapped commands, one per command as a pipeline gives them, from
    /// the replies to `wrap(commands)`: `EXEC`'s elements; when `EXEC` failed (`EXECABORT`: a
    /// command was refused when queued), the refused command's own error and `EXEC`'s for the others.
    public static func replies(_ wrapped: [Result<RESPValue, RedisError>], of count: Int) -> [Result<RESPValue, RedisError>] {
        guard wrapped.count == count + 2 else {
            return Array(repeating: .failure(.protocolError("\(wrapped.count) replies for \(count) commands in MULTI")), count: count)
        }
        let queued = wrapped.dropFirst().dropLast()
        switch wrapped.last! {
        case .success(.array(let results)) where results.count == count:
            return results.map(\.asResult)
        case .failure(let error):
            return queued.map { slot in if case .failure = slot { slot } else { .failure(error) } }
        case .success(let other):
            return Array(repeating: .failure(.protocolError("EXEC answered \(other) for \(count) commands")), count: count)
        }
    }
}
