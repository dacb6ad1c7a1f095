import EventLoop
import Foundation
import HTTPServer
import PostgresClient

/// Delivers the webhook outbox (issue 12) from its own thread, so a slow or dead endpoint never
/// touches claims or checkout: lease due rows (`WebhookStore.lease`, oldest per coupon first),
/// POST each with its signature, mark it delivered on a 2xx, else retry later with exponential
/// backoff (`retryDelayMs`). At-least-once: a node that dies after a POST but before marking
/// it leaves the row to be re-sent when the lease ends (same `X-Coupond-Delivery` id). Any node
/// may run one; leases (`FOR UPDATE SKIP LOCKED`) keep two from sending a row at once.
public final class WebhookDeliverer: @unchecked Sendable {  // mutable state is touched only by its BackgroundTask
    public struct Options: Sendable {
        public var timeoutMs: Int
        public var maxBackoffMs: Int64
        public var batch: Int
        public var expiringScanSeconds: Double

        public init(timeoutMs: Int = 2_000, maxBackoffMs: Int64 = 60_000, batch: Int = 50, expiringScanSeconds: Double = 60) {
            self.timeoutMs = timeoutMs
            self.maxBackoffMs = maxBackoffMs
            self.batch = batch
            self.expiringScanSeconds = expiringScanSeconds
        }
    }

    /// 500 ms after the first failure, doubling per attempt, at most `maxMs`.
    public static func retryDelayMs(attempts: Int, maxMs: Int64) -> Int64 {
        min(maxMs, 500 << Int64(min(max(attempts, 0), 20)))
    }

    private let conninfo: String
    private let options: Options
    private let log: @Sendable (String, [String: String]) -> Void
    private let thread = BackgroundTask(.init(name: "webhooks", pacing: .polling(idleMs: 20, maxIdleMs: 500), niceness: 10))
    private var connection: PostgresConnection?
    private var lastScan = Date.distantPast

    public init(conninfo: String, options: Options = Options(), log: @escaping @Sendable (String, [String: String]) -> Void) {
        self.conninfo = conninfo
        self.options = options
        self.log = log
    }

    @discardableResult
    public func start() -> WebhookDeliverer {
        thread.start({ [self] in try iteration() }, onError: { [self] error in
            connection = nil
            log("webhook_error", ["error": "\(error)"])
        })
        return self
    }

    public func stop() { thread.stop() }

    func iteration() throws -> Int {
        let postgres = try connection ?? PostgresConnection(conninfo: conninfo)
        connection = postgres
        var work = 0
        if Date().timeIntervalSince(lastScan) >= options.expiringScanSeconds {
            lastScan = Date()
            work += try WebhookStore.enqueueExpiring(on: postgres)
        }
        let leaseSeconds = max(5, options.timeoutMs * 2 / 1000 + 5)
        for delivery in try WebhookStore.lease(limit: options.batch, leaseSeconds: leaseSeconds, on: postgres) {
            work += 1
            if let error = send(delivery) {
                let delay = Self.retryDelayMs(attempts: delivery.attempts, maxMs: options.maxBackoffMs)
                try WebhookStore.failed(delivery.id, retryInMs: delay, error: error, on: postgres)
            } else {
                try WebhookStore.delivered(delivery.id, on: postgres)
            }
        }
        return work
    }

    /// Nil on a 2xx answer, else what went wrong.
    private func send(_ delivery: WebhookStore.Delivery) -> String? {
        let body = Array(delivery.payload.utf8)
        let timestamp = Int64(Date().timeIntervalSince1970)
        let client = BlockingHTTPClient(host: delivery.url.host, port: delivery.url.port, timeoutSeconds: Double(options.timeoutMs) / 1000)
        defer { client.close() }
        do {
            let response = try client.send(
                method: "POST", path: delivery.url.path,
                headers: WebhookSignature.headers(
                    deliveryId: delivery.id, event: delivery.event, secret: delivery.secret, timestamp: timestamp, body: body),
                body: body)
            return (200..<300).contains(response.status) ? nil : "HTTP \(response.status)"
        } catch {
            return "\(error)"
        }
    }
}
