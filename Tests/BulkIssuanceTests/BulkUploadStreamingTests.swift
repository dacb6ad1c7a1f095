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
    /// Resident set of this process (the in-process node), in bytes.

    static func head(_ path: String, length: Int, key: String) -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Type: text/csv\r\nContent-Length: \(length)\r\n\r\n".utf8)
    }

    /// Line `n` (1-based) of the big upload: the user id and a CSV column of padding.
    static func line(_ n: Int) -> String { "user-\(n),\(padding)\n" }
    static let padding = String(repeating: "p", count: 100)

    @Test func a300kLineUploadIsCopiedWhileItArrivesWithoutGrowingTheNode() throws {
        let node = try TestNode.start { $0.bulkJobs = false }
        defer { node.stop() }
        let adminKey = node.keys[.admin]!
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
        // Warm the key cache and the worker's connections with one small upload.
        let warm = try BulkJobClient(port: node.port, adminKey: adminKey).send(
            "POST", "/v1/campaigns/\(campaign)/bulk-grants", body: Array("w1\n".utf8))
        #expect(warm.status == 202)

        let lines = 300_000
        let length = (1...lines).reduce(0) { $0 + Self.line($1).utf8.count }
        let rss = PeakResidentSampler()
        let baseline = rss.baseline
        let started = Date()
        let connection = try RawConnection(port: node.port, timeoutSeconds: 60)
        var sent = connection.send(Self.head("/v1/campaigns/\(campaign)/bulk-grants", length: length, key: adminKey))
        var n = 1
        while n <= lines {  // generated piece by piece: the test holds no copy of the body either
            var piece = ""
            for index in n..<min(n + 2_000, lines + 1) { piece += Self.line(index) }
            n += 2_000
            sent += connection.send(Array(piece.utf8))
        }
        let answer = String(decoding: connection.read(atLeast: 12), as: UTF8.self)
        let seconds = Date().timeIntervalSince(started)
        rss.stop()
        usleep(20_000)
        let growth = rss.peak - baseline
        print(
            "bulk upload streaming: \(lines) lines, body \(length) B in \(String(format: "%.2f", seconds)) s "
                + "(\(Int(Double(lines) / seconds)) lines/s); node RSS baseline \(baseline / 1024) KiB, peak \(rss.peak / 1024) KiB, "
                + "growth \(growth / 1024) KiB = \(String(format: "%.1f", Double(growth) * 100 / Double(length)))% of the body")
        #expect(answer.hasPrefix("HTTP/1.1 202"))
        let copied = try node.postgres().execute(
            "SELECT count(*), count(DISTINCT user_id), max(line_no) FROM bulk_job_lines WHERE job_id = (SELECT max(id) FROM bulk_jobs)").first!
        #expect(try copied.int(0) == lines)
        #expect(try copied.int(1) == lines)
        #expect(try copied.int(2) == lines)
        #expect(try node.postgres().execute("SELECT total FROM bulk_jobs ORDER BY id DESC LIMIT 1").first!.int(0) == lines)
        // A buffered body alone would be `length` bytes (34 MB); the stream holds one chunk.
        #expect(growth < length / 4)
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
        // While it streams, the one upload slot is taken: another upload is refused (the probe
        // names no campaign, so a free slot would answer 404 and create nothing).
        var probe = 0
        #expect(TestEnvironment.waitUntil(seconds: 5) {
            probe = (try? bulk.send("POST", "/v1/campaigns/999999/bulk-grants", body: Array("u1\n".utf8)).status) ?? 0
            return probe == 503
        })
        cut.close()
        var after = 0
        #expect(TestEnvironment.waitUntil(seconds: 5) {
            after = (try? bulk.send("POST", "/v1/campaigns/999999/bulk-grants", body: Array("u1\n".utf8)).status) ?? 0
            return after == 404
        })
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
