import EventLoop
import Foundation
import Glibc
import HTTPServer
import PostgresClient
import RedisClient

/// coupon-load: drives claims against one or more coupond nodes (closed or open loop),
/// reports latency and throughput, then checks the issuance guarantees against Redis and
/// PostgreSQL. Exits 1 on any violation, 2 on bad usage or setup failure.
signal(SIGPIPE, SIG_IGN)

func createCampaign(_ options: LoadOptions, adminKey: String) throws -> Int64 {
    let target = options.targets[0]
    let client = BlockingHTTPClient(host: target.host, port: target.port, timeoutSeconds: 10)
    defer { client.close() }
    let headers = [("Authorization", "Bearer \(adminKey)"), ("Content-Type", "application/json")]
    func post(_ path: String, _ body: String) throws -> Int64 {
        let response = try client.send(method: "POST", path: path, headers: headers, body: Array(body.utf8))
        guard response.status == 201, let id = ClaimConnection.idField(response.body) else {
            throw LoadError("POST \(path) failed: \(response.status) \(response.bodyString)")
        }
        return id
    }
    let template = try post(
        "/v1/templates",
        #"{"name":"load test","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"validity":{"type":"relative","days":7}}"#)
    let formatter = ISO8601DateFormatter()
    let start = formatter.string(from: Date().addingTimeInterval(-60))
    let end = formatter.string(from: Date().addingTimeInterval(86_400))
    return try post(
        "/v1/campaigns",
        #"{"template_id":\#(template),"name":"load test","stock":\#(options.createStock!),"per_user_limit":\#(options.createLimit),"shards":\#(options.createShards),"claim_start":"\#(start)","claim_end":"\#(end)"}"#)
}

extension ClaimConnection {
    /// The `"id":N` of a JSON body.
    static func idField(_ body: [UInt8]) -> Int64? {
        let text = String(decoding: body, as: UTF8.self)
        guard let range = text.range(of: #""id":"#) else { return nil }
        return Int64(text[range.upperBound...].prefix { $0.isNumber })
    }
}

func runLoad() throws -> Int32 {
    let options = try LoadOptions.parse(Array(CommandLine.arguments.dropFirst()))
    let keys = try LoadOptions.readKeys(options.keysFile!)
    guard let issueKey = keys["COUPOND_ISSUE_KEY"] else { throw LoadError("no COUPOND_ISSUE_KEY in \(options.keysFile!)") }
    let campaignId: Int64
    if let id = options.campaignId {
        campaignId = id
    } else {
        guard let adminKey = keys["COUPOND_ADMIN_KEY"] else { throw LoadError("no COUPOND_ADMIN_KEY in \(options.keysFile!)") }
        campaignId = try createCampaign(options, adminKey: adminKey)
    }

    var redis: BlockingRedisConnection?
    var postgres: PostgresConnection?
    var before: CampaignSnapshot?
    if let endpoint = options.redis, let conninfo = options.postgres {
        redis = try BlockingRedisConnection(endpoint: .tcp(host: endpoint.host, port: endpoint.port), timeoutSeconds: 10)
        postgres = try PostgresConnection(conninfo: conninfo)
        before = try CampaignSnapshot.read(campaignId: campaignId, redis: redis!, postgres: postgres!)
    }

    let runId = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let workload = Workload(options: options, runId: runId)
    let counter = ClaimCounter(total: workload.totalClaims)
    let group = try EventLoopGroup(count: options.loops, namePrefix: "load")
    let startNs = MonotonicClock.now() + 200_000_000  // connections open first
    let drivers = group.loops.enumerated().map { index, loop in
        let share = options.connections / options.loops + (index < options.connections % options.loops ? 1 : 0)
        let rotated = Array(options.targets[(index % options.targets.count)...] + options.targets[..<(index % options.targets.count)])
        return LoadDriver(
            loop: loop, options: options, workload: workload, counter: counter, campaignId: campaignId, issueKey: issueKey,
            startNs: startNs, connections: max(share, 1), targets: rotated,
            ratePerLoop: options.rate.map { $0 / Double(options.loops) })
    }
    let mode = options.rate.map { String(format: "open loop at %.0f/s", $0) } ?? "closed loop"
    if !options.quiet {
        print("coupon-load: \(mode), \(workload.totalClaims) claims from \(options.users) \(options.distribution.rawValue) users, campaign \(campaignId), run \(runId)")
    }
    for driver in drivers { driver.start() }
    while MonotonicClock.now() < startNs { usleep(10_000) }
    // Progress once a second until every loop is done.
    let progress = Thread {
        var last = 0
        while true {
            Thread.sleep(forTimeInterval: 1)
            let now = counter.completed.load(ordering: .relaxed)
            if now == last && now >= counter.total { break }
            if !options.quiet { print("  \(now - last) claims/s (\(now) answered)") }
            last = now
        }
    }
    progress.start()
    for driver in drivers { driver.done.wait() }
    let elapsed = Double(MonotonicClock.now() - startNs) / 1e9

    var stats = LoopStats(users: workload.users)
    for driver in drivers {
        let collected = DispatchSemaphore(value: 0)
        let box = StatsBox()
        driver.loop.execute { box.stats = driver.stats; collected.signal() }
        collected.wait()
        let part = box.stats!
        stats.histogram.merge(part.histogram)
        for (second, count) in part.perSecondCount.enumerated() {
            while stats.perSecondCount.count <= second {
                stats.perSecondCount.append(0)
                stats.perSecondHistogram.append(LatencyHistogram())
            }
            stats.perSecondCount[second] += count
            stats.perSecondHistogram[second].merge(part.perSecondHistogram[second])
        }
        for (key, value) in part.outcomes { stats.outcomes[key, default: 0] += value }
        stats.grants += part.grants
        for user in 0..<workload.users { stats.claimsPerUser[user] += part.claimsPerUser[user] }
        stats.retries += part.retries
        stats.timeouts += part.timeouts
        stats.connectionErrors += part.connectionErrors
        stats.unknown += part.unknown
        stats.firstSoldOutNs = [stats.firstSoldOutNs, part.firstSoldOutNs].compactMap { $0 }.min()
        stats.lastGrantNs = [stats.lastGrantNs, part.lastGrantNs].compactMap { $0 }.max()
        stats.sent += part.sent
    }
    group.shutdown()

    var report = RunReport(
        label: options.label, mode: mode, campaignId: campaignId, targets: options.targets.map { "\($0.host):\($0.port)" },
        connections: options.connections, loops: options.loops, rate: options.rate,
        elapsedSeconds: min(elapsed, Double(stats.perSecondCount.count)), stats: stats, checks: [], lag: nil)
    if let redis, let postgres, let before {
        let (checks, lag) = try Checker.run(
            campaignId: campaignId, before: before, stats: stats, workload: workload, redis: redis, postgres: postgres,
            flushWaitSeconds: options.flushWaitSeconds)
        report.checks = checks
        report.lag = lag
    }
    print(report.text)
    if let path = options.jsonPath {
        let data = try JSONSerialization.data(withJSONObject: report.json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
    if let path = options.svgPath { try report.svg.write(toFile: path, atomically: true, encoding: .utf8) }
    return report.checks.allSatisfy(\.passed) ? 0 : 1
}

final class StatsBox: @unchecked Sendable { var stats: LoopStats? }  // written on a loop, read after the semaphore

do {
    exit(try runLoad())
} catch {
    FileHandle.standardError.write(Data("coupon-load: \(error)\n".utf8))
    exit(2)
}
