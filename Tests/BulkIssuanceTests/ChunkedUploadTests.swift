import CouponCore
import CouponService
import Foundation
import Glibc
import Synchronization
import HTTPServer
import ServiceTestSupport
import Testing
import TestSupport

/// `Transfer-Encoding: chunked` bodies against a real node (issue 12: uploads of unknown length):
/// a claim, a bulk-grants upload and segment uploads, decoded and streamed like `Content-Length`
/// bodies; hostile chunked input gets a clear 4xx and changes nothing.
@Suite(.serialized) struct ChunkedUploadTests {
    /// The head of a chunked request.
    static func head(_ method: String, _ path: String, key: String, contentType: String = "text/csv", extra: String = "") -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Type: \(contentType)\r\nTransfer-Encoding: chunked\r\n\(extra)\r\n".utf8)
    }

    /// `body` framed as chunks of pseudo-random sizes (1 byte to 16 KiB), some with extensions.
    static func chunks(_ body: [UInt8], seed: UInt64) -> [UInt8] {
        var generator = seed
        func next() -> Int {
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(generator >> 33)
        }
        var wire: [UInt8] = []
        var start = 0
        while start < body.count {
            let end = min(body.count, start + 1 + next() % 16_384)
            let ext = next() % 5 == 0 ? ";x=\(start)" : ""
            wire += Array("\(String(end - start, radix: 16))\(ext)\r\n".utf8) + body[start..<end] + Array("\r\n".utf8)
            start = end
        }
        return wire
    }

    static let last = Array("0\r\n\r\n".utf8)

    /// Sends head + wire in writes of `pieceBytes` and reads the answer.
    static func send(_ client: BlockingHTTPClient, _ head: [UInt8], _ wire: [UInt8], pieceBytes: Int = 50_000) throws -> HTTPClientResponse {
        try client.sendRaw(head)
        var start = 0
        while start < wire.count {
            let end = min(wire.count, start + pieceBytes)
            try client.sendRaw(Array(wire[start..<end]))
            start = end
        }
        return try client.readResponse()
    }

    static func counts(_ node: TestNode) throws -> [Int] {
        let row = try node.postgres().execute(
            "SELECT (SELECT count(*) FROM bulk_jobs), (SELECT count(*) FROM bulk_job_lines), (SELECT count(*) FROM segments), (SELECT count(*) FROM segment_members)"
        ).first!
        return try (0..<4).map { try row.int($0) }
    }

    @Test func aChunkedClaimIsGrantedAndTheConnectionGoesOn() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let client = node.client()
        defer { client.close() }
        let body = Array(#"{"user_id":"chunky","request_id":"r-chunked-1"}"#.utf8)
        let wire = Array("5\r\n".utf8) + body[0..<5] + Array("\r\n".utf8) + Self.chunks(Array(body[5...]), seed: 3) + Self.last
        let claimed = try Self.send(
            client, Self.head("POST", "/v1/campaigns/\(campaign)/claims", key: node.keys[.issue]!, contentType: "application/json"), wire)
        #expect(claimed.status == 201)
        #expect(try JSONParser.parse(claimed.body)["user_id"]?.stringValue == "chunky")
        // The same request again on the same connection, now with Content-Length: the replay.
        let replay = try node.claim(campaignId: campaign, userId: "chunky", requestId: "r-chunked-1", on: client)
        #expect([200, 201].contains(replay.status))
        let code = try JSONParser.parse(claimed.body)["code"]?.stringValue
        let replayed = try JSONParser.parse(replay.body)["code"]?.stringValue
        #expect(code != nil && code == replayed)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))
        // A chunked claim over the route's 4 KiB: 413 at the chunk size, before its data; nothing granted.
        let big = node.client()
        defer { big.close() }
        let padding = String(repeating: " ", count: 5_000)
        let oversized = Array("{\"user_id\":\"big\",\"request_id\":\"r-big\"\(padding)}".utf8)
        let refused = try Self.send(
            big, Self.head("POST", "/v1/campaigns/\(campaign)/claims", key: node.keys[.issue]!, contentType: "application/json"),
            Array("20\r\n".utf8) + oversized[0..<32] + Array("\r\n".utf8) + Self.chunks(Array(oversized[32...]), seed: 5) + Self.last)
        #expect(refused.status == 413)
        #expect(refused.bodyString.contains("body_too_large"))
        #expect(refused.closesConnection)
        let stats = try node.request("GET", "/v1/campaigns/\(campaign)", as: .admin)
        #expect(try JSONParser.parse(stats.body)["remaining"]?.int64Value == 9)
    }

    @Test func a100kLineChunkedBulkUploadCopiesEveryLineAndAJobGrantsRight() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let bulk = BulkJobClient(port: node.port, adminKey: adminKey)
        let big = try node.createCampaign(stock: 10, perUserLimit: 1)
        _ = try bulk.send("GET", "/v1/jobs/1")  // the key is known from here on

        // 100,000 lines in random chunk sizes: lines land in order, numbered, none lost or split.
        let lines = 100_000
        let body = Array((1...lines).map { "user-\($0),col\n" }.joined().utf8)
        let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 60)
        defer { client.close() }
        let wire = Self.chunks(body, seed: 7) + Self.last
        let path = "/v1/campaigns/\(big)/bulk-grants"
        let lengthHead = Array("POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminKey)\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        // Same-run baseline: the same lines with Content-Length, sent in the same 50 kB writes on
        // the same connection, alternated (length, chunked, chunked, length). Every job is
        // cancelled at once: the lines are what this part checks.
        var seconds = (length: 0.0, chunked: 0.0)
        var chunkedJobs: [Int64] = []
        for chunked in [false, true, true, false] {
            let started = Date()
            let response = try Self.send(client, chunked ? Self.head("POST", path, key: adminKey) : lengthHead, chunked ? wire : body)
            let elapsed = Date().timeIntervalSince(started)
            #expect(response.status == 202)
            let job = try #require(try JSONParser.parse(response.body)["id"]?.int64Value)
            _ = try bulk.send("POST", "/v1/jobs/\(job)/cancel")
            if chunked {
                seconds.chunked += elapsed
                chunkedJobs.append(job)
            } else {
                seconds.length += elapsed
            }
        }
        print(
            "FIGURE: chunked bulk upload: \(lines) lines, \(body.count) B of data in \(wire.count) B of chunks (1 B–16 KiB), "
                + "\(String(format: "%.2f", seconds.chunked / 2)) s each (\(Int(2 * Double(lines) / seconds.chunked)) lines/s); with Content-Length "
                + "\(String(format: "%.2f", seconds.length / 2)) s; chunked/Content-Length time \(String(format: "%.2f", seconds.chunked / seconds.length))x (2 each, alternated)")
        let bigJob = chunkedJobs[0]
        let copied = try node.postgres().execute(
            "SELECT count(*), count(DISTINCT user_id), min(line_no), max(line_no), count(*) FILTER (WHERE user_id = 'user-' || line_no) FROM bulk_job_lines WHERE job_id = $1",
            [bigJob]
        ).first!
        #expect(try (0..<5).map { try copied.int($0) } == [lines, lines, 1, lines, lines])

        // A job from a chunked upload runs like any other: 300 users, then 20 repeats, stock 250.
        let campaign = try node.createCampaign(stock: 250, perUserLimit: 1)
        let small = Array(((1...300).map { "c\($0)" } + (1...20).map { "c\($0)" }).joined(separator: "\n").utf8)
        let response = try Self.send(client, Self.head("POST", "/v1/campaigns/\(campaign)/bulk-grants", key: adminKey), Self.chunks(small, seed: 9) + Self.last)
        #expect(response.status == 202)
        let id = try #require(try JSONParser.parse(response.body)["id"]?.int64Value)
        let status = try bulk.waitFinished(id)
        #expect(status["state"]?.stringValue == "done")
        #expect(status.count("total") == 320)
        #expect(status.count("granted") == 250)
        #expect(status.count("refused", "sold_out") == 50)
        #expect(status.count("refused", "limit_reached") == 20)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 250))
    }

    @Test func a300kLineChunkedUploadIsNotHeldWholeByTheNode() throws {
        let node = try TestNode.start { $0.bulkJobs = false }
        defer { node.stop() }
        let lines = 300_000
        var pieces: UInt64 = 0
        let upload = try BulkUploadStreamingTests.uploadBig(
            to: node, lines: lines, label: "chunked bulk upload streaming",
            head: { Self.head("POST", $0, key: $1) },
            send: { connection, piece in  // each piece in random chunks
                pieces += 1
                _ = connection.send(Self.chunks(piece, seed: pieces))
            },
            end: { _ = $0.send(Self.last) })
        #expect(upload.answer.hasPrefix("HTTP/1.1 202"))
        #expect(upload.copied == [lines, lines, lines])
        // Buffered, the body alone would be `length` bytes (34 MB); the stream holds one read.
        #expect(upload.growth < upload.length / 4)
    }

    @Test func anIdempotentRetryChunkedDifferentlyReturnsTheSameJob() throws {
        let node = try TestNode.start { $0.bulkJobs = false }
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let body = Array((1...3_000).map { "i\($0)\n" }.joined().utf8)
        let key = "Idempotency-Key: chunk-retry-1\r\n"
        let path = "/v1/campaigns/\(campaign)/bulk-grants"
        // The key covers the decoded body: other chunk sizes, or Content-Length, are the same upload.
        var ids: [Int64?] = []
        for seed in [UInt64(1), 2] {
            let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 30)
            defer { client.close() }
            let response = try Self.send(client, Self.head("POST", path, key: adminKey, extra: key), Self.chunks(body, seed: seed) + Self.last)
            #expect(response.status == 202)
            ids.append(try JSONParser.parse(response.body)["id"]?.int64Value)
        }
        let framedByLength = try BulkJobClient(port: node.port, adminKey: adminKey).send(
            "POST", path, body: body, headers: [("Idempotency-Key", "chunk-retry-1")])
        ids.append(try JSONParser.parse(framedByLength.body)["id"]?.int64Value)
        #expect(ids[0] != nil && ids == [ids[0], ids[0], ids[0]])
        let other = try BulkJobClient(port: node.port, adminKey: adminKey).send(
            "POST", path, body: body + Array("extra\n".utf8), headers: [("Idempotency-Key", "chunk-retry-1")])
        #expect(other.status == 422)
        let counts = try Self.counts(node)
        #expect(Array(counts.prefix(2)) == [1, 3_000], "\(counts)")
    }

    @Test func chunkedSegmentUploadsStreamAndACutOffOneLeavesNothing() throws {
        let node = try TestNode.start { $0.bulkJobs = false; $0.bulkMaxUploads = 1 }
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let bulk = BulkJobClient(port: node.port, adminKey: adminKey)
        _ = try bulk.send("GET", "/v1/segments/999")  // the key is known from here on

        // 60,000 ids (every tenth twice), streamed in random chunks: 54,546 distinct members.
        let ids = (1...54_546).map { "m\($0)" } + (1...5_454).map { "m\($0 * 10)" }
        let body = Array(("user_id\n" + ids.joined(separator: "\n") + "\n").utf8)
        let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 60)
        defer { client.close() }
        let created = try Self.send(client, Self.head("POST", "/v1/segments?name=chunked", key: adminKey), Self.chunks(body, seed: 11) + Self.last)
        #expect(created.status == 201)
        let segment = try JSONParser.parse(created.body)
        #expect(segment["size"]?.int64Value == 54_546)
        let id = try #require(segment["id"]?.int64Value)
        let members = try node.postgres().execute(
            "SELECT count(*), count(*) FILTER (WHERE user_id = 'm54546') FROM segment_members WHERE segment_id = $1", [id]).first!
        #expect(try members.int(0) == 54_546)
        #expect(try members.int(1) == 1)
        // A rule segment as a chunked JSON body, on the same connection.
        let rule = Array(#"{"name":"loyal","rule":{"type":"redeemed_at_least","count":1}}"#.utf8)
        let ruled = try Self.send(client, Self.head("POST", "/v1/segments", key: adminKey, contentType: "application/json"), Self.chunks(rule, seed: 1) + Self.last)
        #expect(ruled.status == 201)
        #expect(try JSONParser.parse(ruled.body)["kind"]?.stringValue == "rule")

        // An upload cut off mid-body holds the one upload slot while it streams (a bulk upload
        // meanwhile gets 503), then leaves no segment and frees the slot.
        let before = try Self.counts(node)
        let cut = try RawConnection(port: node.port)
        cut.send(Self.head("POST", "/v1/segments?name=cut", key: adminKey))
        cut.send(Self.chunks(Array((1...20_000).map { "k\($0)\n" }.joined().utf8), seed: 5))
        BulkUploadStreamingTests.expectSlotHeldUntilHangUp(cut, bulk: bulk)
        #expect(try Self.counts(node) == before)
    }

    @Test func hostileChunkedUploadsGetAClear4xxAndChangeNothing() throws {
        let node = try TestNode.start { $0.bulkJobs = false; $0.bulkMaxLines = 20_000; $0.bulkBodyLimitBytes = 400_000; $0.bulkMaxUploads = 1 }
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let bulk = BulkJobClient(port: node.port, adminKey: adminKey)
        _ = try bulk.send("GET", "/v1/jobs/1")
        /// The connection answers a framing error at once; the upload's worker frees the one
        /// slot once its transaction is rolled back, a few ms later (a probe naming no campaign
        /// then gets 404, not 503).
        func slotFree() -> Bool {
            TestEnvironment.waitUntil(seconds: 5) {
                (try? bulk.send("POST", "/v1/campaigns/999999/bulk-grants", body: Array("u1\n".utf8)).status) == 404
            }
        }
        let paths = ["/v1/campaigns/\(campaign)/bulk-grants", "/v1/segments?name=hostile"]
        let goodLines = Self.chunks(Array((1...5_000).map { "h\($0)\n" }.joined().utf8), seed: 2)
        let cases: [(name: String, extra: String, wire: [UInt8], status: Int, code: String)] = [
            ("bare LF after a chunk deep in the body", "", goodLines + Array("3\r\nh1\n\n0\r\n\r\n".utf8), 400, "invalid_chunked_body"),
            ("non-hex chunk size", "", goodLines + Array("1g\r\n".utf8), 400, "invalid_chunked_body"),
            ("chunk size overflowing 64 bits", "", goodLines + Array("1FFFFFFFFFFFFFFFF\r\n".utf8), 400, "invalid_chunked_body"),
            ("endless chunk extension", "", goodLines + Array(("1;" + String(repeating: "x", count: 8_000) + "\r\n").utf8), 400, "chunk_line_too_long"),
            ("decoded body over bulk-body-limit-bytes", "", goodLines + Array("60000\r\n".utf8), 413, "body_too_large"),
            ("bad line deep in a chunked body", "", goodLines + Self.chunks(Array("bad id\nh9\n".utf8), seed: 4) + Self.last, 400, "line 5001"),
            ("too many lines, chunked", "", Self.chunks(Array((1...20_001).map { "t\($0)\n" }.joined().utf8), seed: 6) + Self.last, 413, "too_many_lines"),
            ("Content-Length with Transfer-Encoding", "Content-Length: 10\r\n", goodLines + Self.last, 400, "content_length_with_transfer_encoding"),
        ]
        for path in paths {
            for hostile in cases {
                let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 30)
                defer { client.close() }
                let response = try Self.send(client, Self.head("POST", path, key: adminKey, extra: hostile.extra), hostile.wire)
                #expect(response.status == hostile.status, "\(path): \(hostile.name)")
                #expect(response.bodyString.contains(hostile.code), "\(path): \(hostile.name): \(response.bodyString)")
                #expect(slotFree(), "\(path): \(hostile.name)")
            }
            // Codings other than chunked: gzip before chunked is not implemented, chunked not last is faulty framing.
            for (coding, status) in [("gzip, chunked", 501), ("chunked, gzip", 400), ("identity", 400)] {
                let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 30)
                defer { client.close() }
                try client.sendRaw(Array("POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminKey)\r\nTransfer-Encoding: \(coding)\r\n\r\n3\r\nu1\n\r\n0\r\n\r\n".utf8))
                let response = try client.readResponse()
                #expect(response.status == status, "\(path): \(coding)")
                #expect(response.closesConnection)
            }
        }
        #expect(try Self.counts(node) == [0, 0, 0, 0])
        // The node still takes a well-formed chunked upload.
        let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 30)
        defer { client.close() }
        #expect(try Self.send(client, Self.head("POST", paths[1], key: adminKey), goodLines + Self.last).status == 201)
    }
}
