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
        switch Result(catching: { () throws(RedisError) -> RESPValue in try redis.command(["XINFO", "GROUPS", .string(stream)]) }) {
        case .success(let value): groups = value
        case .failure(.server(let error)) where error.message.contains("no such key"): return nil
        case .failure(let error): throw error
        }
        guard let group = (groups.array ?? []).first(where: { field($0, "name")?.string == CampaignKeys.flusherGroup })
        else { return nil }
        let lastDelivered = field(group, "last-delivered-id")?.string.flatMap(StreamID.init)
        let pendingCount = Int(field(group, "pending")?.int ?? 0)
        // `lag` is nil when Redis cannot tell (after deletions); count the range then.
        var undelivered = Int(field(group, "lag")?.int ?? -1)
        if undelivered < 0 {
            let after = lastDelivered.map { "(" + $0.description } ?? "-"
            let reply = try redis.command(["XRANGE", .string(stream), .string(after), "+"])
            undelivered = reply.array?.count ?? 0
        }
        var floor = lastDelivered.map(\.successor)
        if pendingCount > 0 {
            let summary = try redis.command(["XPENDING", .string(stream), .string(CampaignKeys.flusherGroup)])
            if let smallest = summary.array?[safe: 1]?.string.flatMap(StreamID.init) {
                floor = floor.map { min($0, smallest) } ?? smallest
            }
        }
        if lastDelivered == StreamID(ms: 0, seq: 0) { floor = nil }
        return GrantStreamState(unflushed: undelivered + pendingCount, pending: pendingCount, trimBelow: floor)
    }

    private static func field(_ value: RESPValue, _ name: String) -> RESPValue? {
        guard let items = value.array else { return nil }
        var index = 0
        while index + 1 < items.count {
            if items[index].string == name { return items[index + 1] }
            index += 2
        }
        return nil
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
