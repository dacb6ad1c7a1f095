import EventLoop
import Foundation
import Issuance
import GrantFlusher
import RedisClient
import Synchronization

/// Claims per second by outcome, and remaining stock, kept in Redis so every node draws the
/// same picture. One hash per campaign and minute, `cp:{c:ID}:series:<minute>`, fields
/// `<second>:<outcome>` (count) and `<second>:remaining` (stock after that turn's claims),
/// expiring after `ttlSeconds`. Each loop adds its counts every `flushMilliseconds`, one script
/// call per campaign, so the cost does not grow with the claim rate (a count may land in the
/// next second when it was made in the last `flushMilliseconds` of one).
public enum ClaimSeries {
    public static let ttlSeconds = CampaignKeys.seriesTTLSeconds
    public static let flushMilliseconds = 100
    public static let maxSeconds = 600
    /// Outcomes always present in a series answer, in display order.
    public static let outcomes = ["granted", "sold_out", "limit_reached", "not_started", "ended", "paused", "not_eligible"]

    public static func key(campaignId: Int64, minute: Int64) -> String {
        CampaignKeys(campaignId: campaignId).series(minute: minute)
    }

    /// KEYS: the minute's hash, the stock, the campaign's meta hash; ARGV: second, ttl, then
    /// outcome/count pairs. Campaigns Redis does not hold get no series (no keys for made-up ids).
    static let script = RedisScript(
        """
        if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
        for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':' .. ARGV[i], ARGV[i + 1]) end
        local stock = redis.call('GET', KEYS[2])
        if stock then redis.call('HSET', KEYS[1], ARGV[1] .. ':remaining', stock) end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return 1
        """)

    static func arguments(second: Int64, counts: [String: Int64]) -> [RedisArgument] {
        var args: [RedisArgument] = [.int(second), .int(Int64(ttlSeconds))]
        for (outcome, count) in counts.sorted(by: { $0.key < $1.key }) {
            args.append(.string(outcome))
            args.append(.int(count))
        }
        return args
    }

    /// Adds claim outcomes to Redis in batches: per loop, counts pile up for `flushMilliseconds`
    /// and go out as one script call per campaign (like the engine's local sold-out refusal count, on a timer).
    public final class Recorder: Sendable {
        private let pending = Mutex<[ObjectIdentifier: [Int64: [String: Int64]]]>([:])
        public init() {}

        /// Counts one claim (the script skips campaigns Redis does not hold; a refusal that says so
        /// is not even sent).
        public func record(_ campaignId: Int64, outcome: String, redis: any AsyncRedis, loop: EventLoop) {
            guard outcome != "unknown_campaign" else { return }
            let id = ObjectIdentifier(loop)
            let first = pending.withLock { table -> Bool in
                let wasEmpty = table[id]?.isEmpty ?? true
                table[id, default: [:]][campaignId, default: [:]][outcome, default: 0] += 1
                return wasEmpty
            }
            guard first else { return }
            let hop = LoopBound(redis, loop: loop)
            _ = loop.schedule(afterMilliseconds: flushMilliseconds) { [self] in
                let batch = pending.withLock { table in table.removeValue(forKey: id) ?? [:] }
                let second = Int64(Date().timeIntervalSince1970)
                for (campaign, counts) in batch {
                    let keys = CampaignKeys(campaignId: campaign)
                    hop.value.evalScript(
                        script, keys: [.string(key(campaignId: campaign, minute: second / 60)), .string(keys.stock), .string(keys.meta)],
                        args: arguments(second: second, counts: counts)
                    ) { _ in }
                }
            }
        }
    }

    /// A window of the series as the API answers it.
    public struct Window: Sendable, Equatable {
        public var from: Int64
        public var seconds: Int
        public var counts: [String: [Int64]]
        public var remaining: [Int64?]
        /// Grant → PostgreSQL lag: the largest of the grants committed in that second (ms), from
        /// whichever node's flusher committed them; nil where nothing was committed.
        public var lagMs: [Int64?] = []
    }

    /// Reads `seconds` seconds ending with `now` (inclusive) from the minute hashes.
    /// Seconds with no stock sample carry the previous one forward; `current` fills the end.
    public static func read(campaignId: Int64, seconds: Int, now: Int64, currentRemaining: Int64?, redis: BlockingRedisConnection)
        throws -> Window
    {
        let from = now - Int64(seconds) + 1
        let minutes = Array((from / 60)...(now / 60))
        let replies = try redis.pipeline(minutes.map { ["HGETALL", .string(key(campaignId: campaignId, minute: $0))] })
        var fields: [String: Int64] = [:]
        for reply in replies {
            fields.merge(RESPValue.fieldMap(try reply.get().array ?? []).compactMapValues { Int64($0) }) { _, new in new }
        }
        return window(from: from, seconds: seconds, fields: fields, currentRemaining: currentRemaining)
    }

    /// Pure part of `read`: lays hash fields out as per-second arrays.
    public static func window(from: Int64, seconds: Int, fields: [String: Int64], currentRemaining: Int64?) -> Window {
        var counts: [String: [Int64]] = [:]
        for outcome in outcomes { counts[outcome] = Array(repeating: 0, count: seconds) }
        var samples: [Int64?] = Array(repeating: nil, count: seconds)
        var lag: [Int64?] = Array(repeating: nil, count: seconds)
        for (name, value) in fields {
            guard let colon = name.firstIndex(of: ":"), let second = Int64(name[..<colon]) else { continue }
            let offset = Int(second - from)
            guard offset >= 0, offset < seconds else { continue }
            let field = String(name[name.index(after: colon)...])
            if field == "remaining" {
                samples[offset] = value
            } else if field == CommitLag.field {
                lag[offset] = max(lag[offset] ?? 0, value)
            } else {
                counts[field, default: Array(repeating: 0, count: seconds)][offset] += value
            }
        }
        if let currentRemaining, seconds > 0 { samples[seconds - 1] = samples[seconds - 1] ?? currentRemaining }
        // A sample is the stock after its second's last turn; before the window's first sample nothing
        // was claimed, so stock was that sample plus what its second granted (stock added meanwhile aside).
        var remaining: [Int64?] = []
        var last: Int64?
        if let first = samples.firstIndex(where: { $0 != nil }), let sample = samples[first] {
            last = sample + (counts["granted"]?[first] ?? 0)
        }
        for sample in samples {
            if let sample { last = sample }
            remaining.append(last)
        }
        return Window(from: from, seconds: seconds, counts: counts, remaining: remaining, lagMs: lag)
    }
}
