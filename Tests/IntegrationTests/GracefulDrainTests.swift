import CouponCore
import CouponService
import Foundation
import Glibc
import HTTPServer
import PostgresClient
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Graceful drain on SIGTERM (issue 10 §3) against the real `coupond` binary: `/readyz` is 503
/// at once, the node stops accepting, claims already in flight (held up by a Redis that sleeps)
/// are answered, and the process exits 0.
@Suite(.serialized) struct GracefulDrainTests {
    @Test func sigtermAnswersInFlightClaimsAndExitsZero() throws {
        let redis = try RedisServer.start(appendOnly: true, appendFsyncAlways: true)
        let database = try PostgresServer.shared().createDatabase(prefix: "drain")
        let admin = try Commands.createKey(role: .admin, label: "test", conninfo: database)
        let issue = try Commands.createKey(role: .issue, label: "test", conninfo: database)
        let node = try NodeProcess.start(settings: ["DRAIN_DELAY_SECONDS": "0.4", "REDIS_COMMAND_TIMEOUT_MS": "5000"], redis: redis, database: database)
        let port = node.port
        func call(_ method: String, _ path: String, key: String, body: String?) throws -> HTTPClientResponse {
            try Self.call(port: port, method, path, key: key, body: body)
        }
        let template = try JSONParser.parse(call("POST", "/v1/templates", key: admin, body: TestNode.amountOffTemplate).body)["id"]?.int64Value
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let campaignBody = """
            {"template_id":\(try #require(template)),"name":"drain","stock":100,"per_user_limit":1,
             "claim_start":"\(RFC3339.format(epochMs: now - 60_000))","claim_end":"\(RFC3339.format(epochMs: now + 86_400_000))"}
            """
        let campaign = try #require(try JSONParser.parse(call("POST", "/v1/campaigns", key: admin, body: campaignBody).body)["id"]?.int64Value)
        let warm = try call("POST", "/v1/campaigns/\(campaign)/claims", key: issue, body: #"{"user_id":"warm","request_id":"w"}"#)
        #expect(warm.status == 201)

        // Redis sleeps 1.5 s: the 8 claims sent meanwhile are in flight when SIGTERM arrives.
        let sleeper = Thread { _ = try? BlockingRedisConnection(endpoint: redis.endpoint, timeoutSeconds: 5).command(["DEBUG", "SLEEP", "1.5"]) }
        sleeper.start()
        Thread.sleep(forTimeInterval: 0.1)
        let answers = Locked<[Int]>([])
        let done = DispatchGroup()
        for index in 0..<8 {
            done.enter()
            Thread {
                let body = #"{"user_id":"u\#(index)","request_id":"r\#(index)"}"#
                let status = (try? Self.call(port: port, "POST", "/v1/campaigns/\(campaign)/claims", key: issue, body: body))?.status ?? -1
                answers.withLock { $0.append(status) }
                done.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.3)
        let signalled = Date()
        kill(node.pid, SIGTERM)
        Thread.sleep(forTimeInterval: 0.1)
        // Within the drain delay: still accepting, but not ready.
        let readiness = try BlockingHTTPClient(port: node.port, timeoutSeconds: 5).send(method: "GET", path: "/readyz")
        #expect(readiness.status == 503)
        #expect(readiness.bodyString == #"{"status":"draining"}"#)
        // After it: no longer accepting, while the claims are still waiting for Redis.
        #expect(TestEnvironment.waitUntil(seconds: 1, interval: 0.02) { !TestEnvironment.isListening(port: node.port) })
        #expect(answers.current.isEmpty, "claims answered before Redis woke up: \(answers.current)")

        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(answers.current.sorted() == Array(repeating: 201, count: 8))
        #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.02) { !node.isRunning })
        print("FIGURE: SIGTERM → exit in \(Int(Date().timeIntervalSince(signalled) * 1000)) ms with 8 claims in flight (Redis asleep 1.5 s)")
        #expect(node.exitStatus == 0)
        #expect(try redis.client().command(["GET", "cp:{c:\(campaign)}:stock"]).int == 91)
    }

    /// Issue 12: an upload still streaming when SIGTERM arrives is in flight like a claim: its
    /// body is read to the end and it is answered before the node exits; one that outlives
    /// `drain-timeout-seconds` is cut off and leaves nothing behind.
    @Test func sigtermLetsAStreamingUploadFinishAndCutsOffOneThatOutlivesTheTimeout() throws {
        let database = try PostgresServer.shared().createDatabase(prefix: "drainup")
        let admin = try Commands.createKey(role: .admin, label: "test", conninfo: database)
        let node = try NodeProcess.start(settings: ["DRAIN_TIMEOUT_SECONDS": "3", "WORKERS": "4", "BULK_JOBS": "false"], database: database)
        let port = node.port
        let template = try JSONParser.parse(Self.call(port: port, "POST", "/v1/templates", key: admin, body: TestNode.amountOffTemplate).body)["id"]?.int64Value
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let campaignBody = """
            {"template_id":\(try #require(template)),"name":"drain upload","stock":100,"per_user_limit":1,
             "claim_start":"\(RFC3339.format(epochMs: now - 60_000))","claim_end":"\(RFC3339.format(epochMs: now + 86_400_000))"}
            """
        let campaign = try #require(try JSONParser.parse(Self.call(port: port, "POST", "/v1/campaigns", key: admin, body: campaignBody).body)["id"]?.int64Value)
        func chunk(_ lines: ClosedRange<Int>, _ prefix: String) -> [UInt8] {
            let data = Array(lines.map { "\(prefix)\($0)\n" }.joined().utf8)
            return Array("\(String(data.count, radix: 16))\r\n".utf8) + data + Array("\r\n".utf8)
        }
        let head = Array("POST /v1/campaigns/\(campaign)/bulk-grants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(admin)\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        let finishing = BlockingHTTPClient(port: port, timeoutSeconds: 10)
        defer { finishing.close() }
        try finishing.sendRaw(head + chunk(1...10_000, "a"))
        let stalled = BlockingHTTPClient(port: port, timeoutSeconds: 10)
        defer { stalled.close() }
        try stalled.sendRaw(head + chunk(1...1_000, "b"))  // never ends
        Thread.sleep(forTimeInterval: 0.3)  // both are streaming to their workers

        let signalled = Date()
        kill(node.pid, SIGTERM)
        #expect(TestEnvironment.waitUntil(seconds: 2, interval: 0.02) { !TestEnvironment.isListening(port: port) })
        // The rest of the first upload arrives while the node drains: the upload completes.
        try finishing.sendRaw(chunk(10_001...20_000, "a") + Array("0\r\n\r\n".utf8))
        let answer = try finishing.readResponse()
        #expect(answer.status == 202)
        #expect(answer.closesConnection)
        #expect(try JSONParser.parse(answer.body)["total"]?.int64Value == 20_000)
        // The stalled one gets no answer: cut off at the drain timeout.
        #expect(throws: (any Error).self) { try stalled.readResponse() }
        #expect(TestEnvironment.waitUntil(seconds: 10, interval: 0.02) { !node.isRunning })
        let exitedAfter = Date().timeIntervalSince(signalled)
        print("FIGURE: SIGTERM with 2 uploads streaming: the finishing one answered 202 (20,000 lines), the stalled one cut off; exit after \(Int(exitedAfter * 1000)) ms (drain timeout 3 s)")
        #expect(node.exitStatus == 0)
        #expect(exitedAfter >= 2.9)
        let postgres = try PostgresConnection(conninfo: database)
        let stored = try postgres.execute(
            "SELECT (SELECT count(*) FROM bulk_jobs), (SELECT count(*) FROM bulk_job_lines), (SELECT count(*) FROM bulk_job_lines WHERE user_id LIKE 'b%')").first!
        #expect(try stored.int(0) == 1)
        #expect(try stored.int(1) == 20_000)
        #expect(try stored.int(2) == 0)
    }

    static func call(port: Int, _ method: String, _ path: String, key: String, body: String?) throws -> HTTPClientResponse {
        try BlockingHTTPClient(port: port, timeoutSeconds: 10).send(
            method: method, path: path, headers: [("Authorization", "Bearer \(key)"), ("Content-Type", "application/json")],
            body: body.map { Array($0.utf8) })
    }
}
