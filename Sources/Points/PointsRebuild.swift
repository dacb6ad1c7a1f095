import Foundation
import PostgresClient
import RedisClient
import Store

/// A user's account as their ledger says it is: the balance, the last event number and the
/// lots, replayed from `points_ledger` with the scripts' own rules (credits add to the lot of
/// their expiry; spends and debits take the earliest-expiring lots first; an `expire` event
/// empties its lot; a refund gives back the lots its spend took, else a never-expiring lot).
/// Pure: tested without servers.
public struct PointsLedgerReplay: Sendable, Equatable {
    public private(set) var balance: Int64 = 0
    public private(set) var seq: Int64 = 0
    /// Expiry (nil: never) → points, positive only.
    public private(set) var lots: [Int64?: Int64] = [:]
    private var taken: [String: [(Int64?, Int64)]] = [:]

    public init() {}

    public init(_ events: [PointsEvent]) {
        for event in events.sorted(by: { $0.seq < $1.seq }) { apply(event) }
    }

    public static func == (a: PointsLedgerReplay, b: PointsLedgerReplay) -> Bool { a.balance == b.balance && a.seq == b.seq && a.lots == b.lots }

    /// The lots earliest expiry first (never last), as the account hash orders them.
    public var orderedLots: [PointsLot] {
        lots.map { PointsLot(expiresAtMs: $0.key, points: $0.value) }.sorted { ($0.expiresAtMs ?? .max) < ($1.expiresAtMs ?? .max) }
    }

    static func exchangeKey(_ event: PointsEvent) -> String {
        "\(event.campaignId.map(String.init) ?? "")|\(event.drawId.map(String.init) ?? "")|\(event.requestId ?? "")"
    }

    public mutating func apply(_ event: PointsEvent) {
        seq = max(seq, event.seq)
        balance += event.points
        switch event.kind {
        case .earn, .adjust where event.points > 0:
            add(event.lotExpiryMs, event.points)
        case .expire:
            let lot: Int64? = event.lotExpiryMs
            let left = (lots[lot] ?? 0) + event.points
            if left > 0 { lots[lot] = left } else { lots[lot] = nil }
            if left < 0 { _ = take(-left) }
        case .refund:
            let key = Self.exchangeKey(event)
            if let parts = taken[key], parts.reduce(0, { $0 + $1.1 }) == event.points {
                for (lot, points) in parts { add(lot, points) }
                taken[key] = nil
            } else {
                add(nil, event.points)
            }
        case .spend, .adjust, .earn:
            let parts = take(-event.points)
            if event.kind == .spend { taken[Self.exchangeKey(event)] = parts }
        }
    }

    private mutating func add(_ lot: Int64?, _ points: Int64) {
        guard points > 0 else { return }
        lots[lot, default: 0] += points
    }

    private mutating func take(_ need: Int64) -> [(Int64?, Int64)] {
        var need = need, parts: [(Int64?, Int64)] = []
        for lot in orderedLots where need > 0 {
            let t = min(need, lot.points)
            lots[lot.expiresAtMs] = lot.points == t ? nil : lot.points - t
            parts.append((lot.expiresAtMs, t))
            need -= t
        }
        return parts
    }
}

/// Rebuilds Redis' copy of the points accounts from `points_ledger` (the system of record) for
/// every bucket whose `ready` marker is missing — Redis lost its data, or this is the first
/// start. Until a bucket is rebuilt every points script refuses to change its balances
/// (`points_unavailable`, 503), so nothing is written on top of a lost account. Idempotent and
/// safe on several nodes at once: an account is replaced only when the ledger knows a later
/// event than Redis. Events Redis accepted but had not flushed when it lost its data are lost
/// with it (as grants are without `appendfsync always`). Runs at node start and in the points
/// thread's sweep; `POST /v1/points/rebuild` runs it on demand.
public enum PointsRebuild {
    public struct Summary: Sendable, Equatable {
        public var buckets = 0
        public var users = 0
        public init() {}
    }

    public static func run(redis: BlockingRedisConnection, postgres: PostgresConnection) throws -> Summary {
        let present = try redis.pipeline(PointsKeys.all.map { ["EXISTS", .string($0.ready)] })
        var missing: [Int] = []
        for (bucket, reply) in present.enumerated() where try reply.get().int != 1 { missing.append(bucket) }
        var summary = Summary()
        guard !missing.isEmpty else { return summary }
        let wanted = Set(missing)
        var users: [Int: [String]] = [:]
        for user in try PointsStore.ledgerUsers(on: postgres) {
            let bucket = PointsKeys.bucket(of: user)
            if wanted.contains(bucket) { users[bucket, default: []].append(user) }
        }
        for bucket in missing {
            let keys = PointsKeys(bucket: bucket)
            let list = users[bucket] ?? []
            for start in stride(from: 0, to: list.count, by: 500) {
                let chunk = Array(list[start..<min(start + 500, list.count)])
                var commands: [[RedisArgument]] = [PointsScripts.restore.loadCommand]
                for (user, replay) in try replays(chunk, on: postgres) {
                    var args: [RedisArgument] = [.string(user), .int(replay.seq), .int(replay.balance)]
                    for lot in replay.orderedLots { args += [.string(lot.expiresAtMs.map(String.init) ?? "never"), .int(lot.points)] }
                    commands.append(PointsScripts.restore.evalshaCommand(keys: [.string(keys.account(user)), .string(keys.due)], args: args))
                }
                for result in try redis.pipeline(commands).dropFirst() { summary.users += Int(try result.get().int ?? 0) }
            }
            _ = try redis.command(["SET", .string(keys.ready), .string(String(Int64(Date().timeIntervalSince1970 * 1000)))])
            summary.buckets += 1
        }
        return summary
    }

    static func replays(_ users: [String], on postgres: PostgresConnection) throws -> [(String, PointsLedgerReplay)] {
        var out: [(String, PointsLedgerReplay)] = []
        var current: (user: String, replay: PointsLedgerReplay)?
        for event in try PointsStore.replayEvents(of: users, on: postgres) {
            if current?.user != event.userId {
                if let current { out.append(current) }
                current = (event.userId, PointsLedgerReplay())
            }
            current?.replay.apply(event)
        }
        if let current { out.append(current) }
        return out
    }
}
