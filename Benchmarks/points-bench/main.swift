import CouponCore
import CouponService
import Foundation
import Glibc
import HTTPServer
import PostgresClient
import ServiceTestSupport
import Synchronization

/// points-bench (issue 11 "Measure"): exchange claims/s through one node vs plain claims/s in the
/// same run, and vs a PostgreSQL-only exchange (balance row + stock row in one transaction).
/// Starts its own redis-server (appendfsync always), PostgreSQL and an in-process node on
/// loopback; the load generator shares the machine, equally for every row. Bounded: 3 × --seconds.
/// Usage: points-bench [--seconds 5] [--connections 32] [--fsync always|no]
/// The PostgreSQL-only row runs its transactions straight from the bench threads (no HTTP, no
/// node), so it is an upper bound for that design behind the same API. CPU per operation of this
/// process (node + load generator) is printed next to each rate: steadier than wall time on a
/// shared machine.
signal(SIGPIPE, SIG_IGN)

var options: [String: String] = [:]
var index = 1
while index + 1 < CommandLine.arguments.count {
    options[String(CommandLine.arguments[index].dropFirst(2))] = CommandLine.arguments[index + 1]
    index += 2
}
let seconds = Double(options["seconds"] ?? "5") ?? 5
let connections = Int(options["connections"] ?? "32") ?? 32
let users = 2_000
let fsyncAlways = (options["fsync"] ?? "always") == "always"

/// utime + stime of this process, seconds.
func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func log(_ text: String) { FileHandle.standardError.write(Data("[points-bench] \(text)\n".utf8)) }

/// Runs `body(thread, i)` on `threads` threads for `seconds`; returns operations/s and failures.
func measure(threads: Int, _ setUp: @escaping @Sendable (Int) throws -> AnyObject, _ body: @escaping @Sendable (AnyObject, Int, Int) throws -> Bool) -> (Double, Int) {
    let done = Atomic<Int>(0), failed = Atomic<Int>(0), stop = Atomic<Bool>(false)
    let group = DispatchGroup()
    let started = Date()
    let cpu = processCPU()
    for thread in 0..<threads {
        DispatchQueue.global().async(group: group) {
            guard let state = try? setUp(thread) else { return }
            var i = 0
            while !stop.load(ordering: .relaxed) {
                if (try? body(state, thread, i)) == true { done.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
                i += 1
            }
        }
    }
    Thread.sleep(forTimeInterval: seconds)
    stop.store(true, ordering: .relaxed)
    group.wait()
    let count = done.load(ordering: .relaxed)
    log("  \(count) ops, \(String(format: "%.0f", (processCPU() - cpu) / Double(max(count, 1)) * 1e6)) µs CPU of this process per op")
    return (Double(count) / Date().timeIntervalSince(started), failed.load(ordering: .relaxed))
}

func run() throws {
    let node = try TestNode.start(appendFsyncAlways: fsyncAlways, loops: 2, configure: {
        $0.claimUserRate = .init(perSecond: 1_000_000, burst: 1_000_000)
        $0.keyRate = .init(perSecond: 10_000_000, burst: 10_000_000)
        $0.addressRate = .init(perSecond: 10_000_000, burst: 10_000_000)
    })
    defer { node.stop() }
    let plain = try node.createCampaign(stock: 50_000_000, perUserLimit: 1_000)
    let exchange = try node.createCampaign(stock: 50_000_000, perUserLimit: 1_000)
    _ = try node.request("PUT", "/v1/campaigns/\(exchange)/points", as: .admin, body: #"{"points_cost":1}"#)
    let seed = node.client()
    for user in 0..<users {
        _ = try node.send(on: seed, "POST", "/v1/users/b\(user)/points/earn", as: .points, body: #"{"points":100000000,"reason":"bench","idempotency_key":"s"}"#)
    }
    seed.close()
    log("seeded \(users) users; \(connections) connections, \(seconds) s per row")

    func http(_ campaign: Int64, _ route: String) -> (Double, Int) {
        measure(threads: connections, { _ in node.client(timeoutSeconds: 10) }) { client, thread, i in
            let response = try node.send(
                on: client as! BlockingHTTPClient, "POST", "/v1/campaigns/\(campaign)/\(route)", as: .issue,
                body: #"{"user_id":"b\#((thread * 7919 + i) % users)","request_id":"\#(route)-\#(thread)-\#(i)"}"#)
            return response.status == 201
        }
    }
    let (claims, claimFailures) = http(plain, "claims")
    log("plain claims/s \(Int(claims)) (failed \(claimFailures))")
    let (exchanges, exchangeFailures) = http(exchange, "exchanges")
    log("exchanges/s \(Int(exchanges)) (failed \(exchangeFailures))")

    // PostgreSQL only: the way a points mall does it in one transaction.
    let postgres = try PostgresConnection(conninfo: node.conninfo)
    _ = try postgres.executeScript("""
        CREATE TABLE bench_balance (user_id text PRIMARY KEY, balance bigint NOT NULL);
        CREATE TABLE bench_stock (id int PRIMARY KEY, remaining bigint NOT NULL);
        CREATE TABLE bench_grant (id bigserial PRIMARY KEY, user_id text NOT NULL, request_id text UNIQUE NOT NULL, at timestamptz NOT NULL DEFAULT now());
        INSERT INTO bench_stock VALUES (1, 50000000);
        INSERT INTO bench_balance SELECT 'b' || g, 100000000 FROM generate_series(0, \(users - 1)) g;
        """)
    let (sqlRate, sqlFailures) = measure(threads: connections, { _ in try PostgresConnection(conninfo: node.conninfo) }) { connection, thread, i in
        let connection = connection as! PostgresConnection
        return try connection.transaction { tx in
            let user = "b\((thread * 7919 + i) % users)"
            guard try tx.execute("UPDATE bench_balance SET balance = balance - 1 WHERE user_id = $1 AND balance >= 1", [user]).rowsAffected == 1,
                try tx.execute("UPDATE bench_stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0").rowsAffected == 1
            else { return false }
            _ = try tx.execute("INSERT INTO bench_grant (user_id, request_id) VALUES ($1, $2)", [user, "pg-\(thread)-\(i)"])
            return true
        }
    }
    log("PostgreSQL-only exchanges/s \(Int(sqlRate)) (failed \(sqlFailures))")

    print("| measure | per second | baseline | ratio | target |")
    print("|---|---:|---|---:|---|")
    print("| exchange (reserve → claim → commit) | \(Int(exchanges)) | plain claims \(Int(claims))/s | \(String(format: "%.2f", exchanges / claims))× | ≥ 0.5× \(exchanges / claims >= 0.5 ? "met" : "NOT met") |")
    print("| exchange (reserve → claim → commit) | \(Int(exchanges)) | PostgreSQL-only exchange \(Int(sqlRate))/s | \(String(format: "%.2f", exchanges / sqlRate))× | — |")
}

do { try run() } catch {
    log("failed: \(error)")
    exit(2)
}
