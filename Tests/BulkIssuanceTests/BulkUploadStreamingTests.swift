import CouponCore
import CouponService
import Foundation
import Glibc
import Synchronization
import HTTPServer
import ServiceTestSupport
import Testing
import TestSupport

/// The bulk-grants upload streams (README "Bulk grant jobs"): the body is parsed and copied to
/// PostgreSQL while it arrives, so the node's memory does not grow with it; a client gone
/// mid-upload, a bad line or too many lines create nothing and free the upload's slot.
@Suite(.serialized) struct BulkUploadStreamingTests {
    static func head(_ path: String, length: Int, key: String) -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Type: text/csv\r\nContent-Length: \(length)\r\n\r\n".utf8)
    }

    /// Line `n` (1-based) of the big upload: the user id and a CSV column of padding.
    static func line(_ n: Int) -> String { "user-\(n),\(padding)\n" }
    static let padding = String(repeating: "p", count: 100)

    @Test func a300kLineUploadIsCopiedWhileItArrivesWithoutGrowingTheNode() throws {
        let node = try TestNode.start { $0.bulkJobs = false }
        defer { node.stop() }
        let lines = 300_000
        let length = (1...lines).reduce(0) { $0 + Self.line($1).utf8.count }
        let upload = try Self.uploadBig(
            to: node, lines: lines, label: "bulk upload streaming (Content-Length)",
            head: { Self.head($0, length: length, key: $1) }, send: { _ = $0.send($1) }, end: { _ in })
        #expect(upload.answer.hasPrefix("HTTP/1.1 202"))
        #expect(upload.length == length)
        #expect(upload.copied == [lines, lines, lines])
        #expect(try node.postgres().execute("SELECT total FROM bulk_jobs ORDER BY id DESC LIMIT 1").first!.int(0) == lines)
        // A buffered body alone would be `length` bytes (34 MB); the stream holds one chunk.
        #expect(upload.growth < length / 4)
    }

    /// While `cut` streams, the node's one upload slot is taken: another upload is refused with
    /// 503 (the probe names no campaign, so a free slot would answer 404 and create nothing);
    /// once `cut` hangs up, the slot is free again.
    static func expectSlotHeldUntilHangUp(_ cut: RawConnection, bulk: BulkJobClient) {
        func probe() -> Int {
            (try? bulk.send("POST", "/v1/campaigns/999999/bulk-grants", body: Array("u1\n".utf8)).status) ?? 0
        }
        #expect(TestEnvironment.waitUntil(seconds: 5) { probe() == 503 })
        cut.close()
        #expect(TestEnvironment.waitUntil(seconds: 5) { probe() == 404 })
    }

    /// A big upload as measured by `uploadBig`.
    struct BigUpload {
        /// The start of the node's answer.
        let answer: String
        /// Body bytes before framing.
        let length: Int
        let rssBaseline: Int, rssPeak: Int
        /// Lines copied for the latest job: count, distinct users, highest line number.
        let copied: [Int]
        var growth: Int { rssPeak - rssBaseline }
    }

    /// Uploads lines 1…`lines` (`line(_:)`) to a new campaign of `node` as one request:
    /// `head(path, key)` opens it, `send` writes each piece of 2,000 lines (framed as the head
    /// says), `end` closes the body. Pieces are generated one at a time, so the test holds no
    /// copy of the body either; this process's RSS (the node runs in it) is sampled meanwhile.
    static func uploadBig(
        to node: TestNode, lines: Int, label: String, head: (String, String) -> [UInt8],
        send: (RawConnection, [UInt8]) -> Void, end: (RawConnection) -> Void
    ) throws -> BigUpload {
        let adminKey = node.keys[.admin]!
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        // Warm the key cache and the worker's connections with one small upload.
        let warm = try BulkJobClient(port: node.port, adminKey: adminKey).send(
            "POST", "/v1/campaigns/\(campaign)/bulk-grants", body: Array("w1\n".utf8))
        #expect(warm.status == 202)

        var length = 0
        let rss = PeakResidentSampler()
        let started = Date()
        let connection = try RawConnection(port: node.port, timeoutSeconds: 60)
        _ = connection.send(head("/v1/campaigns/\(campaign)/bulk-grants", adminKey))
        var n = 1
        while n <= lines {
            var piece = ""
            for index in n..<min(n + 2_000, lines + 1) { piece += line(index) }
            let bytes = Array(piece.utf8)
            length += bytes.count
            send(connection, bytes)
            n += 2_000
        }
        end(connection)
        let answer = String(decoding: connection.read(atLeast: 12), as: UTF8.self)
        let seconds = Date().timeIntervalSince(started)
        rss.stop()
        usleep(20_000)
        let upload = BigUpload(
            answer: answer, length: length, rssBaseline: rss.baseline, rssPeak: rss.peak,
            copied: try node.postgres().execute(
                "SELECT count(*), count(DISTINCT user_id), max(line_no) FROM bulk_job_lines WHERE job_id = (SELECT max(id) FROM bulk_jobs)"
            ).first.map { row in try (0..<3).map { try row.int($0) } } ?? [])
        print(
            "FIGURE: \(label): \(lines) lines, \(length) B in \(String(format: "%.2f", seconds)) s "
                + "(\(Int(Double(lines) / seconds)) lines/s); node RSS baseline \(upload.rssBaseline / 1024) KiB, peak \(upload.rssPeak / 1024) KiB, "
                + "growth \(upload.growth / 1024) KiB = \(String(format: "%.1f", Double(upload.growth) * 100 / Double(length)))% of the body")
        return upload
    }

    @Test func aClientGoneMidUploadCreatesNothingAndFreesItsSlot() throws {
        let node = try TestNode.start { $0.bulkJobs = false; $0.bulkMaxUploads = 1 }
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let bulk = BulkJobClient(port: node.port, adminKey: adminKey)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        #expect(try bulk.send("GET", "/v1/jobs/1").status == 404)  // the key is known from here on

        let cut = try RawConnection(port: node.port)
        cut.send(Self.head("/v1/campaigns/\(campaign)/bulk-grants", length: 10_000_000, key: adminKey))
        for index in 1...5_000 { cut.send(Array(Self.line(index).utf8)) }
        Self.expectSlotHeldUntilHangUp(cut, bulk: bulk)
        let counts = try node.postgres().execute("SELECT (SELECT count(*) FROM bulk_jobs), (SELECT count(*) FROM bulk_job_lines)").first!
        #expect(try counts.int(0) == 0)
        #expect(try counts.int(1) == 0)
        #expect(try bulk.submit(campaignId: campaign, lines: ["a1", "a2"]) > 0)
    }

    @Test func aBadLineDeepInTheStreamOrTooManyLinesCreateNothing() throws {
        let node = try TestNode.start { $0.bulkJobs = false; $0.bulkMaxLines = 20_000 }
        defer { node.stop() }
        let bulk = BulkJobClient(port: node.port, adminKey: node.keys[.admin]!)
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        let path = "/v1/campaigns/\(campaign)/bulk-grants"
        var body = (1..<15_000).map { "u\($0)\n" }.joined() + "bad id\n" + (15_001...19_000).map { "u\($0)\n" }.joined()
        let bad = try bulk.send("POST", path, body: Array(body.utf8))
        #expect(bad.status == 400)
        #expect(bad.bodyString.contains("line 15000: user id must be"))
        body = (1...20_001).map { "u\($0)\n" }.joined()
        let tooMany = try bulk.send("POST", path, body: Array(body.utf8))
        #expect(tooMany.status == 413)
        #expect(tooMany.bodyString.contains("too_many_lines"))
        let counts = try node.postgres().execute("SELECT (SELECT count(*) FROM bulk_jobs), (SELECT count(*) FROM bulk_job_lines)").first!
        #expect(try counts.int(0) == 0)
        #expect(try counts.int(1) == 0)
        // The connection-level answers came before the bodies ended; the same keep-alive
        // client can go on (the rest of each body was read and dropped).
        #expect(try bulk.submit(campaignId: campaign, lines: ["x1"]) > 0)
    }
}

/// This process's resident set (the node runs in it), sampled every 5 ms from creation until
/// `stop`: `baseline` when started, `peak` the largest seen.
final class PeakResidentSampler: Sendable {
    let baseline: Int
    private let largest: Atomic<Int>
    private let sampling = Atomic<Bool>(true)

    init() {
        baseline = Self.residentBytes()
        largest = Atomic(baseline)
        let thread = Thread { [self] in
            while sampling.load(ordering: .relaxed) {
                let now = Self.residentBytes()
                if now > largest.load(ordering: .relaxed) { largest.store(now, ordering: .relaxed) }
                usleep(5_000)
            }
        }
        thread.start()
    }

    var peak: Int { largest.load(ordering: .relaxed) }

    func stop() { sampling.store(false, ordering: .relaxed) }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
