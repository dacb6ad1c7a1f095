import EventLoop
import Foundation
import HTTPServer

/// The deliverer's worker threads (issue 12): each takes a leased row, POSTs it with its
/// signature and reports how it went. Each thread keeps one keep-alive connection per endpoint
/// (`Connections`), so a busy subscription costs a POST per event, not a TCP handshake too; a
/// failed or timed-out POST closes its connection. Knows nothing of PostgreSQL; the deliverer
/// settles the rows. `count` threads, started lazily, stopped with `stop`.
final class WebhookSenders: @unchecked Sendable {  // `queue`, `results`, `stopping`, `threads`, `busy` are guarded by `condition`
    struct Finished: Sendable {
        let delivery: WebhookStore.Delivery
        let outcome: WebhookDispatch.Outcome
    }

    private let count: Int
    private let timeoutMs: Int
    private let condition = NSCondition()
    private var queue: [WebhookStore.Delivery] = []
    private var results: [Finished] = []
    private var stopping = false
    private var threads = 0
    /// Workers in the middle of a POST.
    private var busy = 0

    init(count: Int, timeoutMs: Int) {
        self.count = max(1, count)
        self.timeoutMs = timeoutMs
    }

    /// Queues a row for the next free worker (the dispatch policy keeps at most `count` queued or in flight).
    func send(_ delivery: WebhookStore.Delivery) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return }
        queue.append(delivery)
        if threads < count && threads < queue.count + busy { startThread() }
        condition.broadcast()
    }

    /// Finished attempts since the last call; waits up to `waitMs` for the first one.
    func finished(waitMs: Int) -> [Finished] {
        condition.lock()
        defer { condition.unlock() }
        if results.isEmpty && waitMs > 0 && !stopping {
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(waitMs) / 1000))
        }
        defer { results.removeAll() }
        return results
    }

    /// Workers finish their current POST and exit; its result is dropped (the row's lease runs
    /// out and another attempt re-sends it: at-least-once).
    func stop() {
        condition.lock()
        stopping = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func startThread() {
        threads += 1
        let thread = Thread { [self] in
            try? "webhook-send".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            _ = Posix.setThreadNice(10)
            work()
        }
        thread.start()
    }

    private func work() {
        var connections = Connections(timeoutMs: timeoutMs)
        defer { connections.closeAll() }
        condition.lock()
        while true {
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping { break }
            let delivery = queue.removeFirst()
            busy += 1
            condition.unlock()
            let outcome = Self.post(delivery, on: connections.client(for: delivery.url))
            condition.lock()
            busy -= 1
            if stopping { break }
            results.append(Finished(delivery: delivery, outcome: outcome))
            condition.broadcast()
        }
        threads -= 1
        condition.unlock()
    }

    /// One worker's keep-alive connections, one per endpoint (host and port), at most
    /// `maxEndpoints` (beyond that the idle ones are closed and the map starts over).
    struct Connections {
        static let maxEndpoints = 32
        let timeoutMs: Int
        private var clients: [String: BlockingHTTPClient] = [:]

        init(timeoutMs: Int) { self.timeoutMs = timeoutMs }

        mutating func client(for url: WebhookURL) -> BlockingHTTPClient {
            let key = "\(url.host):\(url.port)"
            if let client = clients[key] { return client }
            if clients.count >= Self.maxEndpoints { closeAll() }
            let client = BlockingHTTPClient(host: url.host, port: url.port, timeoutSeconds: Double(timeoutMs) / 1000)
            clients[key] = client
            return client
        }

        mutating func closeAll() {
            for client in clients.values { client.close() }
            clients.removeAll()
        }
    }

    /// One POST on `client` (kept open after a 2xx or 4xx/5xx answer, closed after any error:
    /// a timed-out connection may still carry the late answer): `accepted` on a 2xx, else what
    /// went wrong. A reused connection the endpoint had closed is retried once on a fresh one
    /// (`BlockingHTTPClient`); the receiver may then see the row twice, as at-least-once allows.
    static func post(_ delivery: WebhookStore.Delivery, on client: BlockingHTTPClient) -> WebhookDispatch.Outcome {
        let body = Array(delivery.payload.utf8)
        let timestamp = Int64(Date().timeIntervalSince1970)
        do {
            let response = try client.send(
                method: "POST", path: delivery.url.path,
                headers: WebhookSignature.headers(
                    deliveryId: delivery.id, event: delivery.event, secret: delivery.secret, timestamp: timestamp, body: body),
                body: body)
            return (200..<300).contains(response.status) ? .accepted : .rejected("HTTP \(response.status)")
        } catch {
            client.close()
            return .rejected("\(error)")
        }
    }
}
