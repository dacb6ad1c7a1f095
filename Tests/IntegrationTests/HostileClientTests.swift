import CouponCore
import CouponService
import Dispatch
import Foundation
import Glibc
import HTTPServer
import Synchronization
import Testing

import ServiceTestSupport
import TestSupport

/// Issue 8, defects 1, 2 and 9, against a real node: the `coupond serve` binary (memory and CPU
/// read from /proc/<pid>, stopped with SIGTERM) or an in-process TestNode, with real Redis and
/// PostgreSQL. Clients are hostile: they pipeline and never read, send junk methods and paths,
/// and mix HEAD with GET on keep-alive connections.
@Suite(.serialized) struct HostileClientTests {
    static let pipelined = bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    @Test func neverReadingPipelinersCannotStallTheNode() throws {
        let node = try NodeProcess.start()
        warmUp(port: node.port)
        let baseline = node.residentBytes
        let probe = Probe(port: node.port, node: node)
        probe.start()

        // 10 connections × 3,000 pipelined requests (1,500 × /metrics + /healthz), never read.
        let first = openPipeliners(port: node.port, count: 10, pairsEach: 1_500)
        sleepSeconds(1)  // the node holds them, paused
        let peak = probe.peakResident
        print("FIGURE: 10 never-reading pipeliners: \(first.sent / 1024) KiB of 3,000 requests each accepted by the kernel")
        print("FIGURE: RSS \(baseline >> 20) MB before, peak \(peak >> 20) MB while held (+\((peak - baseline) >> 20) MB)")
        #expect(peak - baseline < 64 << 20)
        for connection in first.connections { connection.close() }
        let idleAfterFirst = secondsUntilIdle(node)
        let (probesWithTen, worstWithTen) = probe.takeWorst()

        // 150 such connections, then they all leave: the loops must not spin afterwards.
        let many = openPipeliners(port: node.port, count: 150, pairsEach: 150)
        sleepSeconds(0.5)
        let peakMany = probe.peakResident
        for connection in many.connections { connection.close() }
        let idleAfterMany = secondsUntilIdle(node)
        probe.stop()
        let (probesWithMany, worstWithMany) = probe.takeWorst()
        print("FIGURE: fresh-connection /healthz with 10 pipeliners: \(probesWithTen) probes, worst \(worstWithTen) ms")
        print("FIGURE: fresh-connection /healthz with 150 pipeliners: \(probesWithMany) probes, worst \(worstWithMany) ms")
        print("FIGURE: CPU idle again \(idleAfterFirst.map { String(format: "%.1f", $0) } ?? "never") s after 10 pipeliners left, "
            + "\(idleAfterMany.map { String(format: "%.1f", $0) } ?? "never") s after 150 left (RSS peak with 150: \(peakMany >> 20) MB)")
        #expect(probe.failures == 0)
        #expect(worstWithTen < 1000)  // target 200 ms; generous for a shared 2-core machine
        #expect(worstWithMany < 3000)
        #expect(idleAfterFirst != nil)
        #expect(idleAfterMany != nil)

        // SIGTERM with 10 stuck pipeliners still connected.
        let stuck = openPipeliners(port: node.port, count: 10, pairsEach: 1_500)
        let start = Date()
        let stopped = node.stop(signal: SIGTERM, within: 10)
        print("FIGURE: SIGTERM with 10 stuck pipeliners connected: exited after \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        #expect(stopped)
        withExtendedLifetime(stuck.connections) {}
    }

    @Test func junkMethodsAndPathsLeaveMetricsAndMemoryAlone() throws {
        let node = try NodeProcess.start()
        let client = BlockingHTTPClient(port: node.port, timeoutSeconds: 5)
        defer { client.close() }
        var methods: [String] = []
        // Warm-up: the label lines for junk exist and the allocator has settled.
        for _ in 0..<20 {
            _ = try client.send(method: Self.randomToken(200), path: "/healthz")
            _ = try client.send(method: "GET", path: Self.randomPath(200))
            _ = try client.send(method: "GET", path: "/metrics")
        }
        let metricsBefore = try client.send(method: "GET", path: "/metrics").body.count
        let rssBefore = node.residentBytes
        var statuses: [Int: Int] = [:]
        for _ in 0..<500 {
            let method = Self.randomToken(200)
            methods.append(method)
            let response = try client.send(method: method, path: "/v1/campaigns/1", body: bytes("{}"))
            statuses[response.status, default: 0] += 1
            #expect(!response.bodyString.contains(method.prefix(50)))
        }
        for _ in 0..<500 {
            statuses[try client.send(method: "GET", path: Self.randomPath(200)).status, default: 0] += 1
        }
        let metrics = try client.send(method: "GET", path: "/metrics")
        let rssAfter = node.residentBytes
        print("FIGURE: /metrics \(metricsBefore) bytes before, \(metrics.body.count) after 500 junk methods + 500 junk paths")
        print("FIGURE: RSS \(rssBefore >> 10) KiB before, \(rssAfter >> 10) KiB after (\((rssAfter - rssBefore) >> 10) KiB)")
        #expect(statuses == [501: 500, 404: 500])
        #expect(abs(metrics.body.count - metricsBefore) < 512)
        #expect(rssAfter - rssBefore < 8 << 20)
        #expect(methods.contains { metrics.bodyString.contains($0.prefix(20)) } == false)
        #expect(metrics.bodyString.contains(#"coupond_http_requests_total{route="unmatched",method="other",status="501"} 520"#))
        #expect(node.stop(signal: SIGINT))  // SIGINT stops it as SIGTERM does
    }

    @Test func everyRouteParsesUnderH11HeadGetPipelinedAndKeepAlive() throws {
        let python = Self.repositoryRoot + "/.venv-tools/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) is missing: run `make tools` (make test does)")
            return
        }
        let node = try TestNode.start(loops: 2, flusher: false)
        defer { node.stop() }
        let template = try node.createTemplate()
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 1, templateId: template)
        _ = try node.claim(campaignId: campaign, userId: "u1", requestId: "r1")
        // The chunked claim's own campaign: the POST-only checks may pause `campaign`.
        let chunkedCampaign = try node.createCampaign(stock: 10, perUserLimit: 1, templateId: template)
        let routes = node.node.routes
        let getPatterns = Set(routes.filter { $0.method == "GET" }.map(\.pattern))
        let postOnly = Set(routes.filter { $0.method == "POST" }.map(\.pattern)).subtracting(getPatterns)
        #expect(getPatterns.count >= 8)
        #expect(postOnly.count >= 4)
        /// A path that reaches the route's handler with a key it accepts, so most answer 200.
        func request(_ pattern: String) -> String {
            var path = pattern.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
                switch segment {
                case "{id}": pattern.hasPrefix("/v1/templates") ? String(template) : String(campaign)
                case "{user_id}": "u1"
                default: segment.hasPrefix("{") ? "1" : String(segment)
                }
            }.joined(separator: "/")
            if pattern == "/v1/reports/reconciliation" { path += "?from=2026-01-01&to=2026-01-02&tz=UTC" }
            let role: Role = pattern.hasPrefix("/v1/users") ? .checkout : pattern.hasPrefix("/v1/reports") ? .finance : .admin
            return path + "\tBearer \(node.keys[role]!)"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments =
            [Self.repositoryRoot + "/Tests/h11/check.py", String(node.port), "--get"]
            + getPatterns.sorted().map(request) + ["--post-only"] + postOnly.sorted().map(request)
            + [
                "--chunked-post",
                "/v1/campaigns/\(chunkedCampaign)/claims\tBearer \(node.keys[.issue]!)\t{\"user_id\":\"h11\",\"request_id\":\"h11-chunked\"}\t201",
                "/v1/segments?name=h11\tBearer \(node.keys[.admin]!)\tuser_id\nh1\nh2\nh1\n\t201",
            ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "h11 check failed:\n\(text)")
        #expect(text.contains("all checks passed"))
        #expect(text.components(separatedBy: ": 200,").count - 1 >= 7, "most GET routes should answer 200")
        #expect(text.components(separatedBy: "ok chunked POST").count - 1 == 2)
        let members = try node.postgres().execute("SELECT size FROM segments WHERE name = 'h11'").first?.int(0)
        #expect(members == 2)
    }

    // MARK: Helpers

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func randomToken(_ length: Int) -> String {
        let alphabet = Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return String((0..<length).map { _ in alphabet.randomElement()! })
    }

    static func randomPath(_ length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-._~/")
        return "/" + String((0..<length - 1).map { _ in alphabet.randomElement()! })
    }

    func warmUp(port: Int) {
        let client = BlockingHTTPClient(port: port, timeoutSeconds: 5)
        defer { client.close() }
        for _ in 0..<50 {
            _ = try? client.send(method: "GET", path: "/metrics")
            _ = try? client.send(method: "GET", path: "/healthz")
        }
    }

    /// Opens `count` connections that each pipeline `pairsEach` × (/metrics, /healthz) and never
    /// read; a send blocked by TCP flow control gives up after 3 s.
    func openPipeliners(port: Int, count: Int, pairsEach: Int) -> (connections: [RawConnection], sent: Int) {
        let opened = Mutex<[RawConnection]>([])
        let sent = Atomic<Int>(0)
        let payload = Array(repeating: Self.pipelined, count: pairsEach).flatMap { $0 }
        DispatchQueue.concurrentPerform(iterations: count) { _ in
            guard let connection = try? RawConnection(port: port, receiveBuffer: 4096, timeoutSeconds: 3) else { return }
            sent.add(connection.send(payload), ordering: .relaxed)
            opened.withLock { $0.append(connection) }
        }
        let connections = opened.withLock { $0 }
        #expect(connections.count == count)
        return (connections, sent.load(ordering: .relaxed) / max(count, 1))
    }

    /// Seconds until a half-second window shows the node using < 10% of a core (nil: not within 5 s).
    func secondsUntilIdle(_ node: NodeProcess) -> Double? {
        let start = Date()
        var previous = node.cpuSeconds
        while Date().timeIntervalSince(start) < 5 {
            sleepSeconds(0.5)
            let now = node.cpuSeconds
            if now - previous < 0.05 { return Date().timeIntervalSince(start) }
            previous = now
        }
        return nil
    }
}

/// Fresh connections asking /healthz every 50 ms on another thread, recording the worst
/// latency and the node's peak RSS.
final class Probe: Sendable {
    private struct State {
        var running = true
        var worst = 0
        var count = 0
        var failures = 0
        var peakResident = 0
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)
    let port: Int
    let node: NodeProcess

    init(port: Int, node: NodeProcess) {
        self.port = port
        self.node = node
    }

    func start() {
        let thread = Thread { [self] in
            while state.withLock({ $0.running }) {
                let begin = Date()
                let client = BlockingHTTPClient(port: port, timeoutSeconds: 3)
                let ok = (try? client.send(method: "GET", path: "/healthz"))?.status == 200
                client.close()
                let elapsed = Int(Date().timeIntervalSince(begin) * 1000)
                let resident = node.residentBytes
                state.withLock {
                    $0.count += 1
                    $0.worst = max($0.worst, elapsed)
                    if !ok { $0.failures += 1 }
                    $0.peakResident = max($0.peakResident, resident)
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        state.withLock { $0.running = false }
        done.wait()
    }

    /// Probes and worst latency since the last call.
    func takeWorst() -> (count: Int, worstMilliseconds: Int) {
        state.withLock { state in
            defer {
                state.worst = 0
                state.count = 0
            }
            return (state.count, state.worst)
        }
    }

    var failures: Int { state.withLock { $0.failures } }
    var peakResident: Int { state.withLock { $0.peakResident } }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func sleepSeconds(_ seconds: Double) { Thread.sleep(forTimeInterval: seconds) }
