import Foundation
import Glibc
import CBlankLineScan
import HTTPServer
import Issuance
import GrantFlusher
import PostgresClient
import RedisClient
import Synchronization

/// The claim script alone, driven by `redis-benchmark` (50 clients, pipeline 16) on a copy of a
/// real campaign's keys under an id no flusher reads, so only Redis + the script are measured.
func redisBenchmarkClaims(redis: (host: String, port: Int), templateCampaign: Int64, requests: Int) throws -> Double {
    let connection = try BlockingRedisConnection(endpoint: .tcp(host: redis.host, port: redis.port), timeoutSeconds: 10)
    let source = CampaignKeys(campaignId: templateCampaign)
    let copy = CampaignKeys(campaignId: 900_000_000 + Int64.random(in: 0..<99_999_999))
    let meta = try connection.command(["HGETALL", .string(source.meta)]).array ?? []
    guard !meta.isEmpty else { throw BenchError("campaign \(templateCampaign) is not published to Redis") }
    _ = try connection.command(["HSET", .string(copy.meta)] + meta.map { .string($0.string ?? "") })
    _ = try connection.command(["HSET", .string(copy.meta), "limit", "1000000000"])
    _ = try connection.command(["SET", .string(copy.stock), "1000000000"])
    _ = try connection.command(["SCRIPT", "LOAD", .string(ClaimScript.script.source)])
    let arguments = [
        "-h", redis.host, "-p", String(redis.port), "-c", "50", "-P", "16", "-n", String(requests), "-r", "1000000000", "-q",
        "EVALSHA", ClaimScript.script.sha1, "8", copy.meta, copy.stock, copy.users, copy.grants,
    ] + ClaimScript.requestBuckets(copy, nowMs: Int64(Date().timeIntervalSince1970 * 1000)).compactMap { argument -> String? in
        if case .string(let key) = argument { return key } else { return nil }
    } + [
        String(ClaimScript.requestTTLMs), "bu__rand_int__", "br__rand_int__", "BC__rand_int__", "",
    ]
    let (status, output) = try runProgram("/usr/bin/redis-benchmark", arguments)
    let matches = output.split(whereSeparator: \.isNewline).compactMap { line -> Double? in
        guard let range = line.range(of: " requests per second") else { return nil }
        return Double(line[..<range.lowerBound].split(separator: " ").last ?? "")
    }
    guard status == 0, let rate = matches.last else { throw BenchError("redis-benchmark failed: \(output.suffix(500))") }
    // Sanity: the script granted (not refused) — the stream grew.
    let length = try connection.command(["XLEN", .string(copy.grants)]).int ?? 0
    guard length > Int64(requests / 2) else { throw BenchError("redis-benchmark claims were not granted (XLEN \(length))") }
    _ = try connection.command(["DEL", .string(copy.meta), .string(copy.stock), .string(copy.users), .string(copy.grants)])
    let buckets = try connection.command(["KEYS", .string(copy.requestBuckets)]).array?.compactMap(\.string) ?? []
    if !buckets.isEmpty { _ = try connection.command(["DEL"] + buckets.map { .string($0) }) }
    return rate
}

/// The PostgreSQL-only design: each claim is a transaction that decrements one stock row
/// `WHERE remaining > 0` and inserts the coupon. Returns committed claims/s.
func postgresOnlyClaims(conninfo: String, clients: Int, seconds: Double) throws -> Double {
    let setup = try PostgresConnection(conninfo: conninfo)
    try setup.executeScript("""
        CREATE TABLE IF NOT EXISTS bench_stock (id int PRIMARY KEY, remaining bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS bench_coupons (code text PRIMARY KEY, user_id text NOT NULL, request_id text NOT NULL,
                                                  issued_at timestamptz NOT NULL DEFAULT now());
        INSERT INTO bench_stock VALUES (1, 1000000000) ON CONFLICT (id) DO UPDATE SET remaining = 1000000000;
        """)
    let claimed = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let deadline = now() + seconds
    let group = DispatchGroup()
    let run = Int.random(in: 0..<1_000_000_000)
    for client in 0..<clients {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            guard let connection = try? PostgresConnection(conninfo: conninfo) else {
                failures.add(1, ordering: .relaxed)
                return
            }
            var index = 0
            while now() < deadline {
                index += 1
                do {
                    let granted = try connection.transaction { connection -> Bool in
                        let rows = try connection.execute(
                            "UPDATE bench_stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0 RETURNING remaining")
                        guard !rows.isEmpty else { return false }
                        try connection.execute(
                            "INSERT INTO bench_coupons (code, user_id, request_id) VALUES ($1, $2, $3)",
                            ["P\(run)-\(client)-\(index)", "u\(client)-\(index)", "r\(run)-\(client)-\(index)"])
                        return true
                    }
                    if granted { claimed.add(1, ordering: .relaxed) }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        thread.start()
    }
    let started = now()
    group.wait()
    let elapsed = now() - started
    return Double(claimed.load(ordering: .relaxed)) / elapsed
}

/// Flusher rows/s: `rows` grants XADDed to a campaign's stream on a Redis no node reads, then a
/// `Flusher` drains them into PostgreSQL. Baseline: one `COPY` of the same rows into `coupons`.
func flusherVersusCopy(flushRedis: (host: String, port: Int), conninfo: String, campaignId: Int64, rows: Int) throws
    -> (flusher: Double, copy: Double)
{
    let redis = try BlockingRedisConnection(endpoint: .tcp(host: flushRedis.host, port: flushRedis.port), timeoutSeconds: 30)
    let keys = CampaignKeys(campaignId: campaignId)
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
    var batch: [[RedisArgument]] = []
    for index in 0..<rows {
        batch.append([
            "XADD", .string(keys.grants), "*", "code", .string("F\(run)\(index)"), "user", .string("fu\(index)"),
            "req", .string("fr\(run)-\(index)"), "at", .int(nowMs), "vf", .int(nowMs), "vu", .int(nowMs + 7 * 86_400_000),
        ])
        if batch.count == 1000 || index == rows - 1 {
            for result in try redis.pipeline(batch) { if case .failure(let error) = result { throw error } }
            batch.removeAll()
        }
    }
    _ = try redis.command(["SADD", .string(CampaignKeys.registry), .string(String(campaignId))])
    // As a node's grants do (GrantHints): the flusher reads a dirty campaign's stream at once
    // instead of finding it in its slow sweep of the registry, which would time the sweep.
    _ = try redis.command(["SADD", .string(GrantHints.dirtyCampaigns), .string(String(campaignId))])
    let flusher = Flusher(consumer: "bench-\(run)", redis: .tcp(host: flushRedis.host, port: flushRedis.port), postgresConninfo: conninfo)
    let started = now()
    flusher.start()
    while flusher.metrics.rowsWritten.load(ordering: .relaxed) < rows && now() - started < 60 { usleep(2_000) }
    let flushSeconds = now() - started
    flusher.stop()
    let written = flusher.metrics.rowsWritten.load(ordering: .relaxed)
    guard written >= rows else { throw BenchError("flusher wrote \(written) of \(rows) rows in 60 s") }

    let postgres = try PostgresConnection(conninfo: conninfo)
    let template = try postgres.execute("SELECT template_id FROM campaigns WHERE id = $1", [campaignId]).first!.string(0)
    let issued = "1970-01-01 00:00:00+00"
    let copyRows: [[String?]] = (0..<rows).map { index in
        ["K\(run)\(index)", String(campaignId), template, "fu\(index)", "kr\(run)-\(index)", issued, issued, issued, "0-\(index)", "3000"]
    }
    let copyStarted = now()
    _ = try postgres.transaction { connection in
        try connection.copyIn(
            "COPY coupons (code, campaign_id, template_id, user_id, request_id, issued_at, valid_from, valid_until, stream_id, face_value) FROM STDIN",
            rows: copyRows)
    }
    let copySeconds = now() - copyStarted
    return (Double(rows) / flushSeconds, Double(rows) / copySeconds)
}

/// ns per request for `HTTPRequestParser` on a typical claim request; baseline: finding the
/// head's end and copying the bytes (the least any parser must do).
func parserNanoseconds(iterations: Int) -> (parser: Double, baseline: Double) {
    let request = typicalClaimRequest
    let started = now()
    let checksum = parseTypicalClaimRequests(iterations: iterations)
    let parserNs = (now() - started) * 1e9 / Double(iterations)
    let (baselineNs, scanned) = copyAndScanNanoseconds(request, iterations: iterations)
    if checksum &+ scanned == 42 { print("") }  // keeps the loops from being optimised away
    return (parserNs, baselineNs)
}

/// ns per request for the copy-and-scan baseline: copy the request's bytes into an array kept
/// across requests, then scan them for the blank line. The scan is `blank_line_scan` (C, its
/// function page-aligned): inlined here, its byte loop moved with the size of the code linked
/// before it and ran 72–160 ns by where it landed, which made ratios between builds meaningless.
@inline(never)
func copyAndScanNanoseconds(_ request: [UInt8], iterations: Int) -> (nanoseconds: Double, checksum: Int) {
    var checksum = 0
    let started = now()
    var copy = [UInt8]()
    for _ in 0..<iterations {
        copy.removeAll(keepingCapacity: true)
        copy.append(contentsOf: request)
        checksum &+= copy.withUnsafeBufferPointer { blank_line_scan($0.baseAddress, $0.count) }
    }
    return ((now() - started) * 1e9 / Double(iterations), checksum)
}

/// The node's VmRSS before and with `count` open idle keep-alive connections (each answered one request).
func memoryWithConnections(node: (host: String, port: Int), pid: Int32, count: Int) throws -> (idleKB: Int, withConnectionsKB: Int) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < rlim_t(count + 100) {
        limit.rlim_cur = min(limit.rlim_max, rlim_t(count + 1000))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    guard let before = residentKilobytes(pid: pid) else { throw BenchError("no /proc/\(pid)/status") }
    var clients: [BlockingHTTPClient] = []
    for _ in 0..<count {
        let client = BlockingHTTPClient(host: node.host, port: node.port, timeoutSeconds: 5)
        let response = try client.send(method: "GET", path: "/healthz")
        guard response.status == 200 else { throw BenchError("healthz answered \(response.status)") }
        clients.append(client)
    }
    usleep(300_000)
    let with = residentKilobytes(pid: pid) ?? 0
    for client in clients { client.close() }
    return (before, with)
}

/// `total_commands_processed` and `total_reads_processed` from `INFO stats`.
func redisStats(_ redis: (host: String, port: Int)) throws -> (commands: Double, reads: Double) {
    let connection = try BlockingRedisConnection(endpoint: .tcp(host: redis.host, port: redis.port), timeoutSeconds: 5)
    let text = try connection.command(["INFO", "stats"]).string ?? ""
    func field(_ name: String) -> Double {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return Double(line.dropFirst(name.count + 1)) ?? 0
        }
        return 0
    }
    return (field("total_commands_processed"), field("total_reads_processed"))
}
