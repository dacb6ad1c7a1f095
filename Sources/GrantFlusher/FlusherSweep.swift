import Foundation
import Issuance
import PostgresClient
import RedisClient

/// Where the flusher's slow sweep over every published campaign stands. Pure: the flusher
/// asks it when a slice is due and which streams the slice holds.
struct SweepCursor: Equatable {
    /// The registry as read at the start of the current sweep, sorted.
    private(set) var streams: [String] = []
    private(set) var position = 0
    private(set) var lastSlice: Date = .distantPast

    /// True when a new sweep starts with the next slice (the caller reads the registry first).
    var atStart: Bool { position == 0 || position >= streams.count }

    func isDue(now: Date, sliceSeconds: Double, sweepSeconds: Double) -> Bool {
        now.timeIntervalSince(lastSlice) >= min(sliceSeconds, sweepSeconds)
    }

    /// How many streams one slice covers so that `count` streams are swept every `sweepSeconds`.
    static func sliceSize(count: Int, sliceSeconds: Double, sweepSeconds: Double) -> Int {
        guard count > 0 else { return 0 }
        guard sweepSeconds > sliceSeconds, sliceSeconds > 0 else { return count }
        return max(1, Int((Double(count) * sliceSeconds / sweepSeconds).rounded(.up)))
    }

    mutating func begin(_ registry: [String]) {
        streams = registry.sorted()
        position = 0
    }

    /// The next slice, at `now`.
    mutating func nextSlice(now: Date, sliceSeconds: Double, sweepSeconds: Double) -> ArraySlice<String> {
        lastSlice = now
        let size = Self.sliceSize(count: streams.count, sliceSeconds: sliceSeconds, sweepSeconds: sweepSeconds)
        let end = min(streams.count, position + size)
        defer { position = end }
        return streams[position..<end]
    }
}

/// Deletes a stream's consumers that have nothing pending and have been idle at least
/// ARGV[2] ms (dead nodes' `host-pid` names pile up otherwise). In one script, so no consumer
/// can read an entry between the check and the delete (its entries would become unclaimable).
/// It touches one key, so it runs on Redis Cluster too. Returns how many it deleted.
enum StaleConsumers {
    static let script = RedisScript(#"""
        local info = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
        if type(info) ~= 'table' or info.err then return 0 end
        local minIdle, removed = tonumber(ARGV[2]), 0
        for _, consumer in ipairs(info) do
          local fields = {}
          for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
          if fields['pending'] == 0 and tonumber(fields['idle']) >= minIdle then
            redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
            removed = removed + 1
          end
        end
        return removed
        """#)

    static func command(stream: String, minIdleMs: Int) -> [RedisArgument] {
        script.evalshaCommand(keys: [.string(stream)], args: [.string(CampaignKeys.flusherGroup), .int(Int64(minIdleMs))])
    }
}

extension Flusher {
    /// Runs a slice of the slow sweep when one is due; returns how many entries it flushed.
    /// Per stream: one pipelined XINFO GROUPS; more only where something is to do (undelivered
    /// entries → read them; pending entries → own re-read and XAUTOCLAIM; trim floor moved;
    /// consumers present → the stale-consumer script, pipelined).
    func sweepSliceIfDue(_ redis: BlockingRedisConnection, postgres: PostgresConnection, now: Date) throws -> Int {
        let (slice, sweepPeriod) = (options.sweepSliceSeconds, options.sweepSeconds)
        guard sweep.isDue(now: now, sliceSeconds: slice, sweepSeconds: sweepPeriod) else { return 0 }
        if sweep.atStart {
            let members = try redis.command(["SMEMBERS", .string(CampaignKeys.registry)])
            let ids = (members.array ?? []).compactMap { $0.string.flatMap(Int64.init) }
            sweep.begin(try streams(of: ids, redis))
            try redis.command(StaleConsumers.script.loadCommand)
        }
        let streams = Array(sweep.nextSlice(now: now, sliceSeconds: slice, sweepSeconds: sweepPeriod))
        guard !streams.isEmpty else { return 0 }
        let replies = try redis.pipeline(streams.map(GrantStreamState.groupsCommand))
        var handled = 0
        var followUps: [[RedisArgument]] = []
        for (stream, reply) in zip(streams, replies) {
            if case .failure(let error) = reply, !GrantStreamState.isMissingStream(error) { throw error }
            guard case .success(let groups) = reply, let info = GroupInfo(groups: groups) else {
                knownGroups.remove(stream)  // no stream or no group (Redis lost it): create it
                try ensureGroup(redis, stream: stream)
                continue
            }
            if (info.lag ?? 1) > 0 { active.insert(stream) }  // entries whose hint was lost
            if info.pending > 0 {
                handled += try recoverPending(redis, postgres: postgres, stream: stream)
                touched.insert(stream)  // trimmed with the pending floor by the next trim
            } else {
                noteBacklog(stream, info.lag ?? 0)
                if info.lastDelivered != StreamID(ms: 0, seq: 0), let floor = info.lastDelivered?.successor,
                    trimmedBelow[stream] != floor
                {
                    followUps.append(["XTRIM", .string(stream), "MINID", .string(floor.description)])
                    trimmedBelow[stream] = floor
                }
            }
            if info.consumers > 0 {
                followUps.append(StaleConsumers.command(stream: stream, minIdleMs: options.staleConsumerMilliseconds))
            }
        }
        guard !followUps.isEmpty else { return handled }
        var removed = 0
        for result in try redis.pipeline(followUps) {
            if case .success(let value) = result, let count = value.int, count > 0 { removed += Int(count) }
        }
        if removed > 0 {
            metrics.consumersRemoved.add(removed, ordering: .relaxed)
            log("flusher_consumers_removed", ["count": String(removed)])
        }
        return handled
    }

    /// A stream with pending entries: our own (left by an error or a previous run under this
    /// name) are read again; other consumers' entries idle past the takeover time are claimed.
    /// Asks XPENDING first, so it creates no consumer where there is nothing to take.
    private func recoverPending(_ redis: BlockingRedisConnection, postgres: PostgresConnection, stream: String) throws -> Int {
        let summary = try redis.command(["XPENDING", .string(stream), .string(CampaignKeys.flusherGroup)])
        let holders = (summary.array?[safe: 3]?.array ?? []).compactMap { $0.array?.first?.string }
        var handled = 0
        if holders.contains(consumer) {
            let own = try read(redis, streams: [stream], ids: ["0"])
            if !own.isEmpty { handled += try flush(own, redis: redis, postgres: postgres) }
        }
        guard holders.contains(where: { $0 != consumer }) else { return handled }
        let idle = try redis.command([
            "XPENDING", .string(stream), .string(CampaignKeys.flusherGroup), "IDLE", .int(Int64(options.claimIdleMilliseconds)), "-", "+", "1",
        ])
        guard !(idle.array ?? []).isEmpty else { return handled }
        let taken = try autoclaim(redis, stream: stream)
        if !taken.isEmpty { handled += try flush(taken, redis: redis, postgres: postgres) }
        return handled
    }
}
