import Foundation
import Glibc

/// coupon-bench: every figure next to a baseline measured in the same run, on the stack that
/// Benchmarks/run.sh starts (Redis with appendfsync always, PostgreSQL, one node, and a second
/// Redis for the flusher measurement). Prints a table and writes JSON.
signal(SIGPIPE, SIG_IGN)

// `coupon-bench --parser-only [ROUNDS]`: just the HTTP parser figure (issue 15), no stack needed.
if CommandLine.arguments.count >= 2 && CommandLine.arguments[1] == "--parser-only" {
    let rounds = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 5 : 5
    for round in 1...rounds {
        let (parserNs, scanNs) = parserNanoseconds(iterations: 300_000)
        print(String(format: "round %d: HTTPRequestParser %.0f ns/request, copy + scan baseline %.0f ns: %.1fx", round, parserNs, scanNs, parserNs / scanNs))
    }
    exit(0)
}

struct Row {
    var name: String
    var value: Double
    var unit: String
    var baselineName: String
    var baseline: Double
    /// The target, as a ratio value/baseline or an absolute bound, and whether it is met.
    var target: String
    var met: Bool?

    var ratio: Double { baseline == 0 ? 0 : value / baseline }
}

func arguments() throws -> [String: String] {
    var options: [String: String] = [:]
    var index = 1
    let args = CommandLine.arguments
    while index < args.count {
        guard args[index].hasPrefix("--"), index + 1 < args.count else { throw BenchError("bad argument \(args[index])") }
        options[String(args[index].dropFirst(2))] = args[index + 1]
        index += 2
    }
    for required in ["node", "node-pid", "keys-file", "redis", "flush-redis", "postgres", "load-bin"] where options[required] == nil {
        throw BenchError("usage: coupon-bench --node H:P --node-pid PID --keys-file F --redis H:P --flush-redis H:P --postgres CONNINFO --load-bin PATH [--json OUT] [--seconds S] [--connections N]")
    }
    return options
}

/// Runs coupon-load against `target` (the main node by default). With `checks`, it verifies the
/// guarantees against Redis and PostgreSQL after the flush; without (a node with no flusher), not.
func loadRun(
    _ options: [String: String], label: String, target: String? = nil, checks: Bool = true, _ extra: [String]
) throws -> [String: Any] {
    let json = NSTemporaryDirectory() + "coupon-bench-\(getpid())-\(label).json"
    var arguments = ["--target", target ?? options["node"]!, "--keys-file", options["keys-file"]!, "--quiet", "--label", label, "--json", json]
    if checks { arguments += ["--redis", options["redis"]!, "--postgres", options["postgres"]!] }
    let (status, output) = try runProgram(options["load-bin"]!, arguments + extra)
    FileHandle.standardError.write(Data((output.split(separator: "\n").prefix(4).joined(separator: "\n") + "\n").utf8))
    guard status == 0 || status == 1, let data = FileManager.default.contents(atPath: json),
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw BenchError("coupon-load \(label) failed (\(status)): \(output.suffix(800))") }
    if status == 1 { FileHandle.standardError.write(Data("coupon-load \(label): GUARANTEE VIOLATED\n\(output)\n".utf8)) }
    try? FileManager.default.removeItem(atPath: json)
    return object
}

func log(_ text: String) { FileHandle.standardError.write(Data("[bench] \(text)\n".utf8)) }

func main() throws -> Int32 {
    if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "--engine-redis" { return try engineMain() }
    let options = try arguments()
    let node = try hostPort(options["node"]!)
    let redis = try hostPort(options["redis"]!)
    let flushRedis = try hostPort(options["flush-redis"]!)
    let conninfo = options["postgres"]!
    guard let pid = Int32(options["node-pid"]!) else { throw BenchError("--node-pid") }
    let seconds = Double(options["seconds"] ?? "8") ?? 8
    let connections = options["connections"] ?? "128"
    var keys: [String: String] = [:]
    for line in try String(contentsOfFile: options["keys-file"]!, encoding: .utf8).split(separator: "\n") {
        if let equals = line.firstIndex(of: "=") { keys[String(line[..<equals])] = String(line[line.index(after: equals)...]) }
    }
    guard let adminKey = keys["COUPOND_ADMIN_KEY"] else { throw BenchError("no admin key") }
    var rows: [Row] = []
    var extras: [String: Any] = [:]

    // Warm-up (JIT-free, but caches, connections, script load) — not reported.
    log("warm-up")
    _ = try loadRun(options, label: "warmup", ["--create-campaign", "stock=1000000,limit=1000", "--users", "100000",
                                                "--connections", connections, "--duration", "2"])

    // (a) and (b): claims/s through one node, every claim granted (the expensive path).
    log("node closed loop, \(connections) connections, \(seconds) s")
    let statsBefore = try redisStats(redis)
    let closed = try loadRun(options, label: "node-closed", [
        "--create-campaign", "stock=100000000,limit=1000", "--users", "2000000", "--connections", connections,
        "--duration", String(seconds),
    ])
    let statsAfter = try redisStats(redis)
    let nodeRate = closed["claims_per_second"] as? Double ?? 0
    let closedLatency = closed["latency_ms"] as? [String: Double] ?? [:]
    let campaign = (closed["campaign_id"] as? NSNumber)?.int64Value ?? 0
    log("redis-benchmark, 50 clients, pipeline 16")
    let benchBefore = try redisStats(redis)
    let redisRate = try redisBenchmarkClaims(redis: redis, templateCampaign: campaign, requests: max(50_000, Int(nodeRate * 3)))
    let benchAfter = try redisStats(redis)
    // Auto-pipelining under load: commands Redis processed per socket read, node vs redis-benchmark -P 16.
    func perRead(_ a: (commands: Double, reads: Double), _ b: (commands: Double, reads: Double)) -> Double {
        (b.commands - a.commands) / max(b.reads - a.reads, 1)
    }
    rows.append(Row(name: "Redis commands per socket read, node under closed-loop load", value: perRead(statsBefore, statsAfter),
                    unit: "cmds/read", baselineName: "same for redis-benchmark -c 50 -P 16", baseline: perRead(benchBefore, benchAfter),
                    target: "", met: nil))
    rows.append(Row(name: "claims/s through one node (closed loop, \(connections) conns)", value: nodeRate, unit: "claims/s",
                    baselineName: "redis-benchmark EVALSHA claim script (-c 50 -P 16)", baseline: redisRate,
                    target: "≥ 0.5×", met: nodeRate >= 0.5 * redisRate))
    if let noFlush = options["node-noflush"] {
        // The claim path alone: a node with no flusher on its own Redis (same settings), as when
        // PostgreSQL and the flushers live on other hosts. Not a substitute for the row above.
        log("node without flusher, closed loop, \(connections) connections, \(seconds) s")
        let alone = try loadRun(options, label: "node-noflush", target: noFlush, checks: false, [
            "--create-campaign", "stock=100000000,limit=1000", "--users", "2000000", "--connections", connections,
            "--duration", String(seconds),
        ])
        let aloneRate = alone["claims_per_second"] as? Double ?? 0
        rows.append(Row(name: "claims/s through one node, flusher on another host (HTTP → Redis → reply)", value: aloneRate,
                        unit: "claims/s", baselineName: "redis-benchmark EVALSHA claim script (-c 50 -P 16)", baseline: redisRate,
                        target: "≥ 0.5×", met: aloneRate >= 0.5 * redisRate))
        extras["closed_loop_no_flusher"] = alone
    }
    log("PostgreSQL-only claims, 50 and 8 clients")
    let pg50 = try postgresOnlyClaims(conninfo: conninfo, clients: 50, seconds: 4)
    let pg8 = try postgresOnlyClaims(conninfo: conninfo, clients: 8, seconds: 4)
    let bestPg = max(pg50, pg8)
    rows.append(Row(name: "claims/s through one node", value: nodeRate, unit: "claims/s",
                    baselineName: "PostgreSQL-only claim, 50 clients", baseline: pg50, target: "", met: nil))
    rows.append(Row(name: "claims/s through one node", value: nodeRate, unit: "claims/s",
                    baselineName: "PostgreSQL-only claim, 8 clients", baseline: pg8,
                    target: "≥ 10× best", met: nodeRate >= 10 * bestPg))

    // Sold-out campaign: answered from the node-local mark (no Redis round trip) when enabled.
    log("node closed loop on a sold-out campaign")
    let soldOut = try loadRun(options, label: "node-sold-out", [
        "--create-campaign", "stock=1,limit=1", "--users", "2000000", "--connections", connections, "--duration", String(min(seconds, 5)),
    ])
    let soldOutRate = soldOut["claims_per_second"] as? Double ?? 0
    rows.append(Row(name: "sold-out claims/s through one node", value: soldOutRate, unit: "claims/s",
                    baselineName: "granted claims/s through the node (above)", baseline: nodeRate, target: "", met: nil))

    // Open loop at half the maximum rate: p99 from the scheduled send time; flusher lag.
    let half = max(100, (nodeRate / 2).rounded())
    log("node open loop at \(Int(half))/s")
    let open = try loadRun(options, label: "node-open-half", [
        "--create-campaign", "stock=100000000,limit=1000", "--users", "2000000", "--connections", connections,
        "--duration", String(seconds), "--rate", String(Int(half)),
    ])
    let openLatency = open["latency_ms"] as? [String: Double] ?? [:]
    let openP99 = openLatency["p99"] ?? 0
    rows.append(Row(name: "open loop p99 at half max rate (\(Int(half))/s)", value: openP99, unit: "ms",
                    baselineName: "closed-loop p50 at max rate", baseline: closedLatency["p50"] ?? 0,
                    target: "≤ 2 ms", met: openP99 <= 2))
    let lag = open["flush_lag_ms"] as? [String: Double] ?? [:]
    let closedLag = closed["flush_lag_ms"] as? [String: Double] ?? [:]
    rows.append(Row(name: "grant→PostgreSQL lag p99, open loop", value: lag["p99"] ?? 0, unit: "ms",
                    baselineName: "lag p99 in the closed-loop run", baseline: closedLag["p99"] ?? 0,
                    target: "≤ 1000 ms", met: (lag["p99"] ?? 1e9) <= 1000))

    // (c) flusher rows/s ÷ COPY of the same rows.
    log("flusher vs COPY")
    let flushCampaign = try createCampaign(node: node, adminKey: adminKey, stock: 1, limit: 1)
    let flushRows = max(20_000, Int(nodeRate * 2))
    let (flusherRate, copyRate) = try flusherVersusCopy(flushRedis: flushRedis, conninfo: conninfo, campaignId: flushCampaign, rows: flushRows)
    rows.append(Row(name: "flusher rows/s (\(flushRows) grants)", value: flusherRate, unit: "rows/s",
                    baselineName: "COPY of the same rows into coupons", baseline: copyRate, target: "", met: nil))
    rows.append(Row(name: "flusher rows/s", value: flusherRate, unit: "rows/s",
                    baselineName: "max claims/s through the node", baseline: nodeRate, target: "≥ 1×", met: flusherRate >= nodeRate))

    // (d) HTTP parsing.
    log("HTTP parser")
    let (parserNs, scanNs) = parserNanoseconds(iterations: 300_000)
    rows.append(Row(name: "HTTPRequestParser, typical claim request", value: parserNs, unit: "ns/request",
                    baselineName: "copy + scan for the blank line", baseline: scanNs, target: "", met: nil))

    // (e) memory with 1,000 idle connections.
    log("node RSS with 1000 connections")
    let (idleKB, withKB) = try memoryWithConnections(node: node, pid: pid, count: 1000)
    rows.append(Row(name: "node VmRSS with 1,000 open connections", value: Double(withKB) / 1024, unit: "MB",
                    baselineName: "node VmRSS before opening them", baseline: Double(idleKB) / 1024,
                    target: "≤ 150 MB", met: Double(withKB) / 1024 <= 150))

    extras["closed_loop"] = closed
    extras["open_loop_half"] = open
    extras["sold_out"] = soldOut
    extras["postgres_only"] = ["clients_50": pg50, "clients_8": pg8]

    printTable(rows)
    var host = [CChar](repeating: 0, count: 256)
    gethostname(&host, 255)
    let json: [String: Any] = [
        "date": ISO8601DateFormatter().string(from: Date()),
        "machine": ["cpus": ProcessInfo.processInfo.activeProcessorCount, "host": String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                    "memory_mb": ProcessInfo.processInfo.physicalMemory / 1_048_576],
        "rows": rows.map { [
            "figure": $0.name, "value": $0.value, "unit": $0.unit, "baseline": $0.baselineName, "baseline_value": $0.baseline,
            "ratio": $0.ratio, "target": $0.target, "met": $0.met.map { $0 as Any } ?? NSNull(),
        ] as [String: Any] },
        "runs": extras,
    ]
    if let path = options["json"] {
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }
    return 0
}

func printTable(_ rows: [Row]) {
    func format(_ value: Double) -> String { value >= 100 ? String(format: "%.0f", value) : String(format: "%.3f", value) }
    var table = "\n| figure | value | baseline (same run) | baseline value | ratio | target |\n|---|---|---|---|---|---|\n"
    for row in rows {
        let verdict = row.met.map { $0 ? "met" : "NOT met" } ?? ""
        table += "| \(row.name) | \(format(row.value)) \(row.unit) | \(row.baselineName) | \(format(row.baseline)) | \(String(format: "%.2f", row.ratio))× | \(row.target) \(verdict) |\n"
    }
    print(table)
}

/// `coupon-bench --engine-redis H:P --redis-pid PID [--claims N]`: the issue 9 engine figures (EngineBench).
func engineMain() throws -> Int32 {
    var options: [String: String] = [:]
    var index = 1
    let args = CommandLine.arguments
    while index + 1 < args.count {
        options[String(args[index].dropFirst(2))] = args[index + 1]
        index += 2
    }
    guard let address = options["engine-redis"], let pid = options["redis-pid"].flatMap(Int32.init) else {
        throw BenchError("usage: coupon-bench --engine-redis H:P --redis-pid PID [--claims N]")
    }
    printTable(try EngineBench.run(redis: try hostPort(address), pid: pid, claims: Int(options["claims"] ?? "20000") ?? 20_000))
    return 0
}

do {
    exit(try main())
} catch {
    FileHandle.standardError.write(Data("coupon-bench: \(error)\n".utf8))
    exit(2)
}
