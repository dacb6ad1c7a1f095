import CouponCore
import Foundation
import Glibc
import Issuance
import RedisClient

/// Issue 9 engine figures, on one Redis (run by Benchmarks/engine-cost.sh with `appendfsync
/// always`), every figure next to its same-run baseline:
/// - Redis CPU µs per granted claim (utime+stime of the Redis pid from /proc) and claims/s:
///   the batched claim script (64 claims per call) vs the single-claim script (64 calls
///   pipelined per round trip, the same claims in flight).
/// - Redis memory per granted claim kept for the idempotency window (`INFO memory` used_memory
///   over N claims after the grant stream is trimmed, as the flusher leaves it): the request
///   buckets vs the layout before issue 9 (a request key + a recent-grants list per claim, each
///   with its own TTL); both with the per-user grant index the node writes after each grant.
enum EngineBench {
    static func run(redis address: (host: String, port: Int), pid: Int32, claims: Int) throws -> [Row] {
        let redis = try BlockingRedisConnection(endpoint: .tcp(host: address.host, port: address.port), timeoutSeconds: 30)
        var rows: [Row] = []
        let single = try cpuRun(redis, pid: pid, claims: claims, batch: false)
        let batched = try cpuRun(redis, pid: pid, claims: claims, batch: true)
        rows.append(Row(name: "Redis CPU per granted claim, batched (64/call)", value: batched.cpuMicros, unit: "µs",
                        baselineName: "single-claim script, 64 pipelined", baseline: single.cpuMicros, target: "< 1×", met: batched.cpuMicros < single.cpuMicros))
        rows.append(Row(name: "claims/s into Redis, batched (64/call)", value: batched.rate, unit: "claims/s",
                        baselineName: "single-claim script, 64 pipelined", baseline: single.rate, target: "", met: nil))
        let before = try memoryRun(redis, claims: claims, legacy: true, index: true)
        let after = try memoryRun(redis, claims: claims, legacy: false, index: true)
        let beforeBare = try memoryRun(redis, claims: claims, legacy: true, index: false)
        let afterBare = try memoryRun(redis, claims: claims, legacy: false, index: false)
        rows.append(Row(name: "Redis bytes per granted claim after the flush (all keys, user index included)", value: after, unit: "B",
                        baselineName: "layout before issue 9 (index kept 24 h)", baseline: before, target: "≤ 250 B", met: after <= 250))
        rows.append(Row(name: "Redis bytes per granted claim (claim script's keys only)", value: afterBare, unit: "B",
                        baselineName: "layout before issue 9", baseline: beforeBare, target: "≤ 250 B", met: afterBare <= 250))
        return rows
    }

    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); utime and stime are fields 14 and 15.
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A fresh campaign in Redis (no node needed): meta as the publisher writes it, stock `stock`.
    static func campaign(_ redis: BlockingRedisConnection, stock: Int64) throws -> CampaignKeys {
        let keys = CampaignKeys(campaignId: 800_000_000 + Int64.random(in: 0..<99_999_999))
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        try redis.command([
            "HSET", .string(keys.meta), .string(CampaignMeta.state), "active", .string(CampaignMeta.start), .int(nowMs - 60_000),
            .string(CampaignMeta.end), .int(nowMs + 86_400_000), .string(CampaignMeta.limit), "1000000", .string(CampaignMeta.tags), "",
            .string(CampaignMeta.validityType), "relative", .string(CampaignMeta.validFrom), "0", .string(CampaignMeta.validUntil), "0",
            .string(CampaignMeta.validDays), "7", .string(CampaignMeta.stockTotal), .int(stock), .string(CampaignMeta.issued), "0",
        ])
        try redis.command(["SET", .string(keys.stock), .int(stock)])
        return keys
    }

    static func cleanup(_ redis: BlockingRedisConnection, _ keys: CampaignKeys) throws {
        var cursor = "0"
        repeat {
            let reply = try redis.command(["SCAN", .string(cursor), "MATCH", .string("cp:\(keys.tag):*"), "COUNT", "1000"]).array ?? []
            cursor = reply.first?.string ?? "0"
            let found = (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string)
            if !found.isEmpty { try redis.command(["UNLINK"] + found.map { .string($0) }) }
        } while cursor != "0"
    }

    static func cpuRun(_ redis: BlockingRedisConnection, pid: Int32, claims: Int, batch: Bool) throws -> (cpuMicros: Double, rate: Double) {
        let keys = try campaign(redis, stock: Int64(claims) * 2)
        let codes = CouponCodeGenerator()
        let run = UInt32.random(in: 0..<UInt32.max)
        try redis.command(ClaimScript.script.loadCommand)
        try redis.command(ClaimBatchScript.script.loadCommand)
        let cpu0 = cpuSeconds(pid: pid), wall0 = now()
        for start in stride(from: 0, to: claims, by: 64) {
            let range = start..<min(start + 64, claims)
            if batch {
                let args = ClaimBatchScript.arguments(range.map { (userId: "u\(run)-\($0)", requestId: "r\(run)-\($0)", code: codes.code(), tags: []) })
                let reply = try redis.command(ClaimBatchScript.script.evalshaCommand(keys: ClaimScript.keys(keys), args: args))
                guard reply.array?.count == range.count else { throw BenchError("batch reply \(reply)") }
            } else {
                let commands = range.map { index in
                    ClaimScript.script.evalshaCommand(
                        keys: ClaimScript.keys(keys),
                        args: ClaimScript.arguments(userId: "u\(run)-\(index)", requestId: "r\(run)-\(index)", code: codes.code(), tags: []))
                }
                for result in try redis.pipeline(commands) { _ = try result.get() }
            }
        }
        let cpu = cpuSeconds(pid: pid) - cpu0, wall = now() - wall0
        let granted = Int(try redis.command(["HGET", .string(keys.meta), "out:granted"]).string ?? "0") ?? 0
        guard granted == claims else { throw BenchError("granted \(granted) of \(claims)") }
        try cleanup(redis, keys)
        return (cpu * 1e6 / Double(claims), Double(claims) / wall)
    }

    static func usedMemory(_ redis: BlockingRedisConnection) throws -> Double {
        let info = try redis.command(["INFO", "memory"]).string ?? ""
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("used_memory:") {
            return Double(line.dropFirst("used_memory:".count)) ?? 0
        }
        throw BenchError("no used_memory")
    }

    /// Bytes per granted claim left in Redis once the stream is trimmed (every grant flushed).
    static func memoryRun(_ redis: BlockingRedisConnection, claims: Int, legacy: Bool, index: Bool) throws -> Double {
        let keys = try campaign(redis, stock: Int64(claims) * 2)
        let codes = CouponCodeGenerator()
        let run = UInt32.random(in: 0..<UInt32.max)
        try redis.command(legacyScript.loadCommand)
        try redis.command(ClaimBatchScript.script.loadCommand)
        try redis.command(["XADD", .string(keys.grants), "0-1", "x", "y"])  // the stream exists before, as after publishing
        try redis.command(["XTRIM", .string(keys.grants), "MAXLEN", "0"])
        let before = try usedMemory(redis)
        var userIndexKeys: [String] = []
        var flushed: [Grant] = []
        for start in stride(from: 0, to: claims, by: 64) {
            let range = start..<min(start + 64, claims)
            var grants: [Grant] = []
            if legacy {
                let commands = range.map { index -> [RedisArgument] in
                    let user = "u\(run)-\(index)", request = "r\(run)-\(index)"
                    return legacyScript.evalshaCommand(
                        keys: [.string(keys.meta), .string(keys.stock), .string(keys.users), .string("cp:\(keys.tag):req:\(request)"),
                               .string(keys.grants), .string("cp:\(keys.tag):u:\(user)")],
                        args: [.string(user), .string(request), .string(codes.code().value), .int(24 * 3_600_000), "", .int(24 * 3_600_000)])
                }
                for (offset, result) in try redis.pipeline(commands).enumerated() {
                    let reply = try result.get()
                    let index = range.lowerBound + offset
                    if let decision = ClaimDecision(reply: reply, campaignId: keys.campaignId, userId: "u\(run)-\(index)", requestId: "r\(run)-\(index)"),
                        case .granted(let grant) = decision { grants.append(grant) }
                }
            } else {
                let args = ClaimBatchScript.arguments(range.map { (userId: "u\(run)-\($0)", requestId: "r\(run)-\($0)", code: codes.code(), tags: []) })
                let replies = try redis.command(ClaimBatchScript.script.evalshaCommand(keys: ClaimScript.keys(keys), args: args)).array ?? []
                for (offset, reply) in replies.enumerated() {
                    let index = range.lowerBound + offset
                    if let decision = ClaimDecision(reply: reply, campaignId: keys.campaignId, userId: "u\(run)-\(index)", requestId: "r\(run)-\(index)"),
                        case .granted(let grant) = decision { grants.append(grant) }
                }
            }
            guard grants.count == range.count else { throw BenchError("memory run: \(grants.count) of \(range.count) granted") }
            if index {
                for result in try redis.pipeline(grants.flatMap(GrantHints.indexCommands)) { _ = try result.get() }
                userIndexKeys += grants.map { GrantHints.userIndex(of: $0.userId) }
            }
            flushed += grants
        }
        // As the flusher leaves Redis once everything is flushed: the stream trimmed and, since
        // issue 9, each flushed grant's user-index entry removed (before, the index stayed 24 h).
        try redis.command(["XTRIM", .string(keys.grants), "MAXLEN", "0"])
        if index && !legacy {
            for chunk in stride(from: 0, to: flushed.count, by: 1000) {
                for result in try redis.pipeline(flushed[chunk..<min(chunk + 1000, flushed.count)].map(GrantHints.removeCommand)) { _ = try result.get() }
            }
        }
        let after = try usedMemory(redis)
        try cleanup(redis, keys)
        for chunk in stride(from: 0, to: userIndexKeys.count, by: 1000) {
            try redis.command(["UNLINK"] + userIndexKeys[chunk..<min(chunk + 1000, userIndexKeys.count)].map { .string($0) })
        }
        return (after - before) / Double(claims)
    }

    /// The single-claim script as it was before issue 9 (request key + recent-grants list per claim).
    static let legacyScript = RedisScript(legacySource)

    static let legacySource = #"""
        local meta, stock, users, req, grants, recent = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
        local user, rid, code = ARGV[1], ARGV[2], ARGV[3]

        local prior = redis.call('GET', req)
        if prior then
          local sep = string.find(prior, '\n', 1, true)
          if string.sub(prior, 1, sep - 1) ~= user then return {'request_conflict'} end
          return {'replayed', string.sub(prior, sep + 1)}
        end

        local m = redis.call('HMGET', meta, 'state', 'start', 'end', 'limit', 'vtype', 'vfrom', 'vuntil', 'vdays', 'tags')
        if not m[1] then return {'unknown_campaign'} end
        local function refuse(reason)
          redis.call('HINCRBY', meta, 'out:' .. reason, 1)
          return {reason}
        end
        if m[1] == 'paused' then return refuse('paused') end
        if m[1] ~= 'active' then return refuse('ended') end

        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if now < tonumber(m[2]) then return refuse('not_started') end
        if now >= tonumber(m[3]) then return refuse('ended') end
        if m[5] == 'fixed' and now > tonumber(m[7]) then return refuse('validity_ended') end

        if m[9] and m[9] ~= '' then
          local have = {}
          for tag in string.gmatch(ARGV[5], '[^,]+') do have[tag] = true end
          local ok = false
          for tag in string.gmatch(m[9], '[^,]+') do if have[tag] then ok = true break end end
          if not ok then return refuse('not_eligible') end
        end

        local claimed = tonumber(redis.call('HGET', users, user) or '0')
        if claimed >= tonumber(m[4]) then return refuse('limit_reached') end
        if tonumber(redis.call('GET', stock) or '0') <= 0 then return refuse('sold_out') end

        local vf, vu
        if m[5] == 'fixed' then
          vf, vu = tonumber(m[6]), tonumber(m[7])
        else
          vf, vu = now, now + tonumber(m[8]) * 86400000
        end
        local nowText, vfText, vuText = string.format('%.0f', now), string.format('%.0f', vf), string.format('%.0f', vu)

        redis.call('DECR', stock)
        redis.call('HINCRBY', users, user, 1)
        redis.call('HINCRBY', meta, 'issued', 1)
        redis.call('HINCRBY', meta, 'out:granted', 1)
        local id = redis.call('XADD', grants, '*', 'code', code, 'user', user, 'req', rid, 'at', nowText, 'vf', vfText, 'vu', vuText)
        local grant = code .. '|' .. nowText .. '|' .. vfText .. '|' .. vuText .. '|' .. id
        redis.call('SET', req, user .. '\n' .. grant, 'PX', ARGV[4])
        redis.call('RPUSH', recent, grant .. '|' .. rid)
        redis.call('PEXPIRE', recent, ARGV[6])
        return {'granted', grant}
"""#
}
