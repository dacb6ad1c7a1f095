import CouponCore
import Foundation
import HTTPServer
import Testing

import ServiceTestSupport
import TestSupport

/// Issue 8, self-healing backends: worker connections recover from a Redis restart on their
/// own, and `Idempotency-Key` makes create retries safe (also across a Redis-down 503).
@Suite(.serialized) struct BackendHealingTests {
    /// Every worker has used its Redis connection; Redis is killed and restarted; 3 s later
    /// 10 concurrent wallet reads and a campaign create all succeed on the first try.
    @Test func workersHealAfterRedisRestart() throws {
        let node = try TestNode.start(appendFsyncAlways: true)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        #expect(try node.claim(campaignId: campaign, userId: "heal", requestId: "heal-1").status == 201)
        // Warm every worker's Redis connection (4 workers, 16 concurrent reads).
        let warm = Locked<[Int]>([])
        #expect(ConcurrentRun.run(threads: 16, timeoutSeconds: 30) { _ in
            let status = (try? node.request("GET", "/v1/users/heal/coupons", as: .checkout).status) ?? -1
            warm.withLock { $0.append(status) }
        })
        #expect(warm.current == [Int](repeating: 200, count: 16))

        node.redis.kill()
        Thread.sleep(forTimeInterval: 0.3)
        try node.redis.restart()
        Thread.sleep(forTimeInterval: 3)

        let statuses = Locked<[Int]>([])
        let bodies = Locked<[String]>([])
        #expect(ConcurrentRun.run(threads: 10, timeoutSeconds: 30) { _ in
            let response = try? node.request("GET", "/v1/users/heal/coupons", as: .checkout)
            statuses.withLock { $0.append(response?.status ?? -1) }
            if let response, response.status != 200 { bodies.withLock { $0.append(response.bodyString) } }
        })
        print("FIGURE: wallet reads 3 s after a Redis restart: \(statuses.current.filter { $0 == 200 }.count)/10 answered 200")
        #expect(statuses.current == [Int](repeating: 200, count: 10), "\(bodies.current.prefix(3))")
        let created = try node.request("POST", "/v1/campaigns", as: .admin, body: Self.campaignBody(template: node.createTemplate()))
        #expect(created.status == 201, "\(created.bodyString)")
        // The grant made before the kill is still in the wallet (AOF, then flushed).
        let wallet = try node.request("GET", "/v1/users/heal/coupons", as: .checkout)
        #expect(try JSONParser.parse(wallet.body)["coupons"]?.arrayValue?.count == 1)
    }

    /// The same for PostgreSQL: every worker's session is broken by a restart; right after it,
    /// 10 concurrent wallet reads and a template create succeed on the first try.
    @Test func workersHealAfterPostgresRestart() throws {
        let postgres = try PostgresServer.startNew()
        defer { postgres.stop() }
        let node = try TestNode.start(conninfo: try postgres.createDatabase(prefix: "heal"))
        defer { node.stop() }
        let warm = Locked<[Int]>([])
        #expect(ConcurrentRun.run(threads: 16, timeoutSeconds: 30) { _ in
            let status = (try? node.request("GET", "/v1/users/heal/coupons", as: .checkout).status) ?? -1
            warm.withLock { $0.append(status) }
        })
        #expect(warm.current == [Int](repeating: 200, count: 16))

        try postgres.restart()
        let statuses = Locked<[Int]>([])
        #expect(ConcurrentRun.run(threads: 10, timeoutSeconds: 30) { _ in
            let status = (try? node.request("GET", "/v1/users/heal/coupons", as: .checkout).status) ?? -1
            statuses.withLock { $0.append(status) }
        })
        print("FIGURE: wallet reads right after a PostgreSQL restart: \(statuses.current.filter { $0 == 200 }.count)/10 answered 200")
        #expect(statuses.current == [Int](repeating: 200, count: 10))
        #expect(try Self.post(node, "/v1/templates", TestNode.amountOffTemplate, key: nil).status == 201)
    }

    /// Same key → same template / campaign; same key with another body → 422; bad key → 400.
    @Test func idempotencyKeyReturnsTheSameResource() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let template = TestNode.amountOffTemplate
        let firstTemplate = try Self.post(node, "/v1/templates", template, key: "tpl-1")
        let againTemplate = try Self.post(node, "/v1/templates", template, key: "tpl-1")
        #expect(firstTemplate.status == 201)
        #expect(againTemplate.status == 201)
        let templateId = try #require(try JSONParser.parse(firstTemplate.body)["id"]?.int64Value)
        #expect(try JSONParser.parse(againTemplate.body)["id"]?.int64Value == templateId)
        let otherTemplate = try Self.post(node, "/v1/templates", template.replacingOccurrences(of: "save 30", with: "save 31"), key: "tpl-1")
        #expect(otherTemplate.status == 422)
        #expect(TestNode.code(of: otherTemplate) == "idempotency_conflict")
        #expect(try Self.count(node, "templates") == 1)

        let body = Self.campaignBody(template: templateId)
        let first = try Self.post(node, "/v1/campaigns", body, key: "cmp-1")
        let again = try Self.post(node, "/v1/campaigns", body, key: "cmp-1")
        #expect(first.status == 201)
        #expect(again.status == 201)
        let campaignId = try #require(try JSONParser.parse(first.body)["id"]?.int64Value)
        #expect(try JSONParser.parse(again.body)["id"]?.int64Value == campaignId)
        let other = try Self.post(node, "/v1/campaigns", body.replacingOccurrences(of: "\"stock\":50", with: "\"stock\":51"), key: "cmp-1")
        #expect(other.status == 422)
        #expect(TestNode.code(of: other) == "idempotency_conflict")
        // The same key on the other route is another key.
        #expect(try Self.post(node, "/v1/templates", template, key: "cmp-1").status == 201)
        #expect(try Self.post(node, "/v1/campaigns", body, key: String(repeating: "k", count: 256)).status == 400)
        #expect(try Self.post(node, "/v1/campaigns", body, key: "has space").status == 400)
        #expect(try Self.count(node, "campaigns") == 1)
        // Without a key, every create is a new campaign.
        #expect(try Self.post(node, "/v1/campaigns", body, key: nil).status == 201)
        #expect(try Self.count(node, "campaigns") == 2)
    }

    /// Redis down: the create is saved and answered 503; the retry with the same key once
    /// Redis is back answers 201 with the same campaign, now published, and no duplicate.
    @Test func keyReusedAfterRedisDown503AnswersTheSameCampaign() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let body = Self.campaignBody(template: try node.createTemplate())
        node.redis.kill()
        let down = try Self.post(node, "/v1/campaigns", body, key: "retry-me")
        #expect(down.status == 503)
        #expect(down.headers["retry-after"] != nil)
        #expect(try Self.count(node, "campaigns") == 1)  // saved

        try node.redis.restart()
        let retried = try Self.post(node, "/v1/campaigns", body, key: "retry-me")
        #expect(retried.status == 201, "\(retried.bodyString)")
        let json = try JSONParser.parse(retried.body)
        let id = try #require(json["id"]?.int64Value)
        let stored = try node.postgres().execute("SELECT id FROM campaigns").map { try $0.int64(0) }
        #expect(stored == [id])
        #expect(json["remaining"]?.int64Value == 50)
        #expect(try node.redisStock(id) == 50)
        // The loops' connections reconnect with backoff (at most 2 s apart): claims work within 3 s.
        #expect(TestEnvironmentWait.until(seconds: 3) {
            (try? node.claim(campaignId: id, userId: "after", requestId: "after-1").status) == 201
        })
    }

    static func post(_ node: TestNode, _ path: String, _ body: String, key: String?) throws -> HTTPClientResponse {
        let client = node.client()
        defer { client.close() }
        var headers = [("Authorization", "Bearer \(node.keys[.admin]!)"), ("Content-Type", "application/json")]
        if let key { headers.append(("Idempotency-Key", key)) }
        return try client.send(method: "POST", path: path, headers: headers, body: Array(body.utf8))
    }

    static func count(_ node: TestNode, _ table: String) throws -> Int {
        try node.postgres().execute("SELECT count(*) FROM \(table)").first!.int(0)
    }

    static func campaignBody(template: Int64) -> String {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return """
            {"template_id":\(template),"name":"healing","stock":50,"per_user_limit":1,\
            "claim_start":"\(RFC3339.format(epochMs: now - 60_000))","claim_end":"\(RFC3339.format(epochMs: now + 86_400_000))"}
            """
    }
}
