import CouponCore

/// The headers of one delivery: `X-Coupond-Delivery` (the outbox id: the same on every retry,
/// so a receiver drops duplicates), `X-Coupond-Event`, `X-Coupond-Timestamp` (unix seconds) and
/// `X-Coupond-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
public enum WebhookSignature {
    public static func signature(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "sha256=" + HMACSHA256.hex(key: Array(secret.utf8), message: Array("\(timestamp).".utf8) + body)
    }

    public static func headers(deliveryId: Int64, event: String, secret: String, timestamp: Int64, body: [UInt8]) -> [(String, String)] {
        [
            ("Content-Type", "application/json"), ("X-Coupond-Delivery", String(deliveryId)), ("X-Coupond-Event", event),
            ("X-Coupond-Timestamp", String(timestamp)), ("X-Coupond-Signature", signature(secret: secret, timestamp: timestamp, body: body)),
        ]
    }

    /// Whether `header` is the signature of `body` at `timestamp` (what a receiver checks).
    public static func verify(header: String, secret: String, timestamp: Int64, body: [UInt8]) -> Bool {
        let expected = Array(signature(secret: secret, timestamp: timestamp, body: body).utf8), given = Array(header.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(expected, given) { difference |= a ^ b }
        return difference == 0
    }
}
