import Issuance
import RedisClient

/// One campaign as Redis sees it at one instant: the counters and every grant-stream entry
/// not yet acknowledged by the flushers (pending or never delivered). Read by one script,
/// so counters and backlog are consistent with each other even while claims run.
struct RedisSnapshot: Sendable, Equatable {
    struct BacklogEntry: Sendable, Equatable {
        let streamId: String
        let code: String
        /// Claim time, ms since the epoch (Redis `TIME`).
        let atMs: Int64
        let pending: Bool
    }

    /// Nil when Redis does not know the campaign (never published, or its keys were lost).
    let stockTotal: Int64?
    let issued: Int64?
    let remaining: Int64?
    /// The stream's last generated id; nil when there is no stream (nothing granted yet).
    let lastStreamId: String?
    let backlog: [BacklogEntry]
    /// True when the backlog had more entries than `maxEntries` (the list is cut there).
    let backlogTruncated: Bool
    /// Stock shards (issue 10); for a sharded campaign the figures are sums over its shards,
    /// each read by one script (K instants: exact at rest), and `inTransit` is the units
    /// debited by stock transfers and not yet credited (`Σ xout − Σ xin`).
    var shards = 1
    var inTransit: Int64 = 0

    static let maxEntries = 100_000

    static let script = RedisScript(#"""
        local meta, stock, grants, group, cap = KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2])
        local m = redis.call('HMGET', meta, '\#(CampaignMeta.stockTotal)', '\#(CampaignMeta.issued)')
        local s = redis.call('GET', stock)
        local head = {m[1] or '', m[2] or '', s or ''}
        if redis.call('EXISTS', grants) == 0 then
          return {head[1], head[2], head[3], '', {}, '0'}
        end
        local function field(list, name)
          for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
          return nil
        end
        local last, found = '0-0', false
        for _, g in ipairs(redis.call('XINFO', 'GROUPS', grants)) do
          if field(g, 'name') == group then last = field(g, 'last-delivered-id'); found = true end
        end
        local out, n, truncated = {}, 0, '0'
        local function add(list, pending)
          for _, e in ipairs(list) do
            if n >= cap then truncated = '1' return end
            n = n + 1
            out[#out + 1] = e[1]
            out[#out + 1] = field(e[2], '\#(GrantStreamEntry.code)') or ''
            out[#out + 1] = field(e[2], '\#(GrantStreamEntry.issuedAt)') or '0'
            out[#out + 1] = pending
          end
        end
        if found then
          for _, p in ipairs(redis.call('XPENDING', grants, group, '-', '+', cap)) do
            add(redis.call('XRANGE', grants, p[1], p[1]), '1')
          end
        end
        add(redis.call('XRANGE', grants, '(' .. last, '+', 'COUNT', cap + 1), '0')
        local info = redis.call('XINFO', 'STREAM', grants)
        return {head[1], head[2], head[3], field(info, 'last-generated-id') or '', out, truncated}
        """#)

    static func read(campaignId: Int64, on redis: BlockingRedisConnection) throws -> RedisSnapshot {
        let count = try CampaignShards.count(campaignId: campaignId, on: redis)
        guard count > 1 else { return try read(CampaignKeys(campaignId: campaignId), on: redis) }
        let shards = CampaignShards.keys(campaignId: campaignId, count: count)
        let parts = try shards.map { try read($0, on: redis) }
        let transfers = try redis.pipeline(
            shards.map { ["HMGET", .string($0.meta), .string(CampaignMeta.transferredIn), .string(CampaignMeta.transferredOut)] })
        var inTransit: Int64 = 0
        for reply in transfers {
            let fields = try reply.get().array ?? []
            inTransit += (fields.count > 1 ? fields[1].string.flatMap(Int64.init) ?? 0 : 0) - (fields.first?.string.flatMap(Int64.init) ?? 0)
        }
        func sum(_ values: [Int64?]) -> Int64? { values.contains(nil) ? nil : values.reduce(0) { $0 + $1! } }
        var merged = RedisSnapshot(
            stockTotal: sum(parts.map(\.stockTotal)), issued: sum(parts.map(\.issued)), remaining: sum(parts.map(\.remaining)),
            lastStreamId: parts.compactMap(\.lastStreamId).max(by: StreamOrder.less),
            backlog: parts.flatMap(\.backlog).sorted { StreamOrder.less($0.streamId, $1.streamId) },
            backlogTruncated: parts.contains(where: \.backlogTruncated))
        merged.shards = count
        merged.inTransit = inTransit
        return merged
    }

    static func read(_ keys: CampaignKeys, on redis: BlockingRedisConnection) throws -> RedisSnapshot {
        let reply = try redis.evalScript(
            script, keys: [.string(keys.meta), .string(keys.stock), .string(keys.grants)],
            args: [.string(CampaignKeys.flusherGroup), .int(Int64(maxEntries))])
        let items = reply.array ?? []
        func text(_ index: Int) -> String? { items.indices.contains(index) ? items[index].string.flatMap { $0.isEmpty ? nil : $0 } : nil }
        var backlog: [BacklogEntry] = []
        let flat = items.indices.contains(4) ? (items[4].array ?? []) : []
        var index = 0
        while index + 3 < flat.count {
            backlog.append(
                BacklogEntry(
                    streamId: flat[index].string ?? "", code: flat[index + 1].string ?? "",
                    atMs: flat[index + 2].string.flatMap(Int64.init) ?? 0, pending: flat[index + 3].string == "1"))
            index += 4
        }
        backlog.sort { StreamOrder.less($0.streamId, $1.streamId) }
        return RedisSnapshot(
            stockTotal: text(0).flatMap(Int64.init), issued: text(1).flatMap(Int64.init), remaining: text(2).flatMap(Int64.init),
            lastStreamId: text(3), backlog: backlog, backlogTruncated: text(5) == "1")
    }
}

/// Orders stream ids `ms-seq` numerically, as Redis does.
enum StreamOrder {
    static func parts(_ id: String) -> (UInt64, UInt64) {
        let pieces = id.split(separator: "-")
        return (pieces.first.flatMap { UInt64($0) } ?? 0, pieces.count > 1 ? UInt64(pieces[1]) ?? 0 : 0)
    }

    static func less(_ a: String, _ b: String) -> Bool { parts(a) < parts(b) }
}
