import Issuance
import RedisClient

/// Where the flushers stand on one grant stream: how many entries are not yet flushed
/// (never delivered, or delivered and not acked) and the id below which entries may go.
public struct GrantStreamState: Sendable, Equatable {
    /// Entries not yet written to PostgreSQL and acked.
    public let unflushed: Int
    /// Entries delivered but not acked.
    public let pending: Int
    /// Every entry below this id is flushed; nil when nothing was ever delivered.
    let trimBelow: StreamID?

    /// Reads the group's position (XINFO GROUPS) and pending summary (XPENDING).
    public static func read(_ redis: BlockingRedisConnection, stream: String) throws -> GrantStreamState? {
        let groups: RESPValue
        switch Result(catching: { () throws(RedisError) -> RESPValue in try redis.command(groupsCommand(stream)) }) {
        case .success(let value): groups = value
        case .failure(let error) where isMissingStream(error): return nil
        case .failure(let error): throw error
        }
        guard let info = GroupInfo(groups: groups) else { return nil }
        return try complete(info, redis: redis, stream: stream)
    }

    static func groupsCommand(_ stream: String) -> [RedisArgument] { ["XINFO", "GROUPS", .string(stream)] }

    /// XINFO on a stream that does not exist.
    static func isMissingStream(_ error: RedisError) -> Bool {
        error.serverError?.message.contains("no such key") ?? false
    }

    /// Completes `info` with what XINFO GROUPS does not tell: the smallest pending id (only when
    /// something is pending) and the undelivered count when Redis cannot give `lag`.
    static func complete(_ info: GroupInfo, redis: BlockingRedisConnection, stream: String) throws -> GrantStreamState {
        var undelivered = info.lag ?? -1
        if undelivered < 0 {
            let after = info.lastDelivered.map { "(" + $0.description } ?? "-"
            let reply = try redis.command(["XRANGE", .string(stream), .string(after), "+"])
            undelivered = reply.array?.count ?? 0
        }
        var floor = info.lastDelivered.map(\.successor)
        if info.pending > 0 {
            let summary = try redis.command(["XPENDING", .string(stream), .string(CampaignKeys.flusherGroup)])
            if let smallest = summary.array?[safe: 1]?.string.flatMap(StreamID.init) {
                floor = floor.map { min($0, smallest) } ?? smallest
            }
        }
        if info.lastDelivered == StreamID(ms: 0, seq: 0) { floor = nil }
        return GrantStreamState(unflushed: undelivered + info.pending, pending: info.pending, trimBelow: floor)
    }

    static func field(_ value: RESPValue, _ name: String) -> RESPValue? {
        guard let items = value.array else { return nil }
        var index = 0
        while index + 1 < items.count {
            if items[index].string == name { return items[index + 1] }
            index += 2
        }
        return nil
    }
}

/// The flushers' group on one stream, as XINFO GROUPS describes it.
struct GroupInfo: Equatable {
    var lastDelivered: StreamID?
    var pending: Int
    /// Entries not yet delivered; nil when Redis cannot tell (after deletions).
    var lag: Int?
    var consumers: Int

    /// The `flushers` group in an XINFO GROUPS reply; nil when the stream has no such group.
    init?(groups: RESPValue) {
        guard let group = (groups.array ?? []).first(where: { GrantStreamState.field($0, "name")?.string == CampaignKeys.flusherGroup })
        else { return nil }
        lastDelivered = GrantStreamState.field(group, "last-delivered-id")?.string.flatMap(StreamID.init)
        pending = Int(GrantStreamState.field(group, "pending")?.int ?? 0)
        lag = GrantStreamState.field(group, "lag")?.int.map(Int.init)
        consumers = Int(GrantStreamState.field(group, "consumers")?.int ?? 0)
    }

    init(lastDelivered: StreamID?, pending: Int, lag: Int?, consumers: Int) {
        self.lastDelivered = lastDelivered
        self.pending = pending
        self.lag = lag
        self.consumers = consumers
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
