import CouponCore
import CouponService
import Foundation
import HTTPServer
import Points
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Prize draws (issue 11 must-show): exact tier stocks, frequencies against the declared
/// weights, every outcome recomputable from its recorded random value.
@Suite(.serialized) struct DrawTests {
    let table = DrawTable(
        tiers: [
            DrawTier(name: "gold", templateId: nil, stock: 500, weight: 1), DrawTier(name: "silver", templateId: nil, stock: 3_000, weight: 5),
            DrawTier(name: "bronze", templateId: nil, stock: 20_000, weight: 30),
        ], noPrizeWeight: 64)

    @Test func ruleAndVersionHash() {
        #expect([0, 1, 5, 6, 35, 36, 99, 100, 101].map { table.select(random: $0) } == [1, 2, 2, 3, 3, 0, 0, 1, 2])
        #expect(table.totalWeight == 100)
        #expect(table.versionHash == SHA1.hexDigest(Array(table.canonical.utf8)))
        let restocked = DrawTable(tiers: table.tiers.map { DrawTier(name: $0.name, templateId: nil, stock: $0.stock + 1, weight: $0.weight) }, noPrizeWeight: 64)
        #expect(restocked.versionHash != table.versionHash)
        #expect(throws: DrawTableError.self) { try DrawTable(json: try JSONParser.parse(#"{"no_prize_weight":1,"tiers":[{"name":"a","stock":1,"weight":0}]}"#)) }
    }

    /// 100,000 attempts by 100,000 users straight through the script on a real Redis.
    @Test func hundredThousandDrawsOnThreeTiers() throws {
        let server = try RedisServer.start()
        defer { server.kill() }
        let redis = try server.client()
        let keys = DrawKeys(drawId: 1)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let call = table.publishCall(keys, state: "active", startMs: now - 60_000, endMs: now + 3_600_000, limit: 1)
        _ = try redis.evalScript(DrawScript.publish, keys: call.keys, args: call.args)
        _ = try redis.evalScript(DrawScript.publish, keys: call.keys, args: call.args)  // publishing again never refills

        var generator = SystemRandomNumberGenerator()
        var attempts: [DrawAttempt] = []
        let total = 100_000, chunk = 2_000
        for start in stride(from: 0, to: total, by: chunk) {
            var commands: [[RedisArgument]] = [DrawScript.script.loadCommand]
            var requests: [(String, String)] = []
            for n in start..<(start + chunk) {
                let user = "u\(n)", rid = "r\(n)"
                requests.append((user, rid))
                commands.append(DrawScript.script.evalshaCommand(
                    keys: DrawScript.keys(keys, requestId: rid),
                    args: DrawScript.arguments(userId: user, requestId: rid, random: DrawTable.random(using: &generator))))
            }
            let replies = try redis.pipeline(commands).dropFirst()
            for ((user, rid), reply) in zip(requests, replies) {
                guard case .drawn(let attempt)? = DrawAttempt.decision(reply: try reply.get(), drawId: 1, userId: user, requestId: rid) else {
                    Issue.record("unexpected reply for \(rid)")
                    continue
                }
                attempts.append(attempt)
            }
        }
        #expect(attempts.count == total)
        // Exact stocks: demand exceeded every tier, so each granted exactly its stock.
        let granted = (1...3).map { tier in attempts.filter { $0.outcomeTier == tier }.count }
        #expect(granted == [500, 3_000, 20_000])
        // Every outcome recomputes from its random value; a tier refuses only once it ran out.
        var given = [0, 0, 0, 0]
        var recomputeFailures = 0, wrongDepletions = 0
        for attempt in attempts {
            if table.select(random: attempt.random) != attempt.selectedTier || attempt.tableHash != table.versionHash { recomputeFailures += 1 }
            if attempt.outcomeTier != 0 { given[attempt.outcomeTier] += 1 }
            if attempt.selectedTier != 0 && attempt.outcomeTier == 0 && given[attempt.selectedTier] != Int(table.tiers[attempt.selectedTier - 1].stock) {
                wrongDepletions += 1
            }
        }
        #expect(recomputeFailures == 0)
        #expect(wrongDepletions == 0)
        // Chi-square of the outcomes before any tier ran out, against the declared weights (df 3).
        let prefix = attempts.prefix { $0.outcomeTier == $0.selectedTier }
        var observed = [0.0, 0.0, 0.0, 0.0]
        for attempt in prefix { observed[attempt.outcomeTier] += 1 }
        let weights = [64.0, 1, 5, 30]
        let n = Double(prefix.count)
        let chiSquare = zip(observed, weights).reduce(0.0) { sum, pair in
            let expected = n * pair.1 / 100
            return sum + (pair.0 - expected) * (pair.0 - expected) / expected
        }
        print("draws: observed \(observed) of \(prefix.count) attempts before the first tier ran out, chi-square \(String(format: "%.2f", chiSquare)) (df 3, p > 0.001 below 16.27)")
        #expect(prefix.count > 40_000)
        #expect(chiSquare < 16.266)
        #expect(try redis.command(["HGETALL", .string(keys.stock)]).array?.compactMap(\.string) == ["1", "0", "2", "0", "3", "0"])
    }

    @Test func drawsThroughTheAPI() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let body = #"""
            {"name":"spring draw","claim_start":"\#(RFC3339.format(epochMs: now - 60_000))","claim_end":"\#(RFC3339.format(epochMs: now + 3_600_000))",
             "attempt_limit":2,"no_prize_weight":1,"tiers":[{"name":"cup","stock":1,"weight":1}]}
            """#
        let (created, draw) = try node.json("POST", "/v1/draws", as: .admin, body: body)
        #expect(created == 201)
        let id = draw["id"]?.int64Value ?? 0
        #expect(draw["table_hash"]?.stringValue?.count == 40)
        #expect(try node.json("POST", "/v1/draws", as: .admin, body: #"{"name":"x","claim_start":"2026-01-01T00:00:00Z","claim_end":"2026-01-02T00:00:00Z","attempt_limit":1,"no_prize_weight":1,"tiers":[]}"#).0 == 400)
        let client = node.client()
        defer { client.close() }
        func attempt(_ user: String, _ request: String) throws -> (Int, JSONValue) {
            try node.json("POST", "/v1/draws/\(id)/attempts", as: .issue, body: #"{"user_id":"\#(user)","request_id":"\#(request)"}"#, on: client)
        }
        let (first, one) = try attempt("ann", "a1")
        #expect(first == 201)
        let (_, again) = try attempt("ann", "a1")
        #expect(again["attempt_id"] == one["attempt_id"])
        #expect(try attempt("ann", "a2").0 == 201)
        #expect(try attempt("ann", "a3").1["error"]?["code"]?.stringValue == "limit_reached")
        #expect(try attempt("bob", "a1").0 == 422)
        #expect(try node.json("POST", "/v1/draws/999/attempts", as: .issue, body: #"{"user_id":"x","request_id":"y"}"#).0 == 404)

        let attemptId = one["attempt_id"]?.stringValue ?? ""
        let flushed = TestEnvironment.waitUntil(seconds: 10, interval: 0.05) {
            ((try? node.postgres().execute("SELECT count(*) FROM draw_attempts WHERE draw_id = $1", [id]).first?.int(0)) ?? 0) == 2
        }
        #expect(flushed)
        let (status, record) = try node.json("GET", "/v1/draws/\(attemptId)", as: .finance)
        #expect(status == 200)
        #expect(record["random"] == one["random"])
        #expect(record["recomputed_tier"] == one["selected_tier"])
        #expect(record["table_hash"] == draw["table_hash"])
        #expect(try node.json("GET", "/v1/draws/\(id)-1-x", as: .finance).0 == 404)
    }
}
