import CouponCore

/// A webhook subscription (issue 12): where to POST which events. Only `http://host:port/path`
/// endpoints (no TLS in the node; put a TLS-terminating proxy in front of a remote receiver).
public struct WebhookSubscription: Sendable, Equatable {
    /// The events one can subscribe to. `coupon.granted` is optional and can be many (one per
    /// grant, bulk jobs included); `coupon.expiring` needs `expiring_within_days`.
    public static let events: Set<String> = [
        "coupon.granted", "coupon.redeemed", "coupon.restored", "coupon.expired", "coupon.expiring", "job.finished",
    ]

    public var id: Int64
    public var url: WebhookURL
    public var secret: String
    public var events: [String]
    public var expiringWithinDays: Int?
    public var active: Bool

    public init(id: Int64, url: WebhookURL, secret: String, events: [String], expiringWithinDays: Int?, active: Bool = true) {
        self.id = id
        self.url = url
        self.secret = secret
        self.events = events
        self.expiringWithinDays = expiringWithinDays
        self.active = active
    }

    /// Decodes `{"url", "events": [...], "expiring_within_days"?}`; the secret is the node's to make.
    public init(json: JSONValue, secret: String) throws(ValidationError) {
        guard case .object(let object) = json else { throw ValidationError(field: "", message: "must be a JSON object") }
        for key in object.keys where !["url", "events", "expiring_within_days"].contains(key) {
            throw ValidationError(field: key, message: "is not a known field")
        }
        guard let text = json["url"]?.stringValue, let url = WebhookURL(text) else {
            throw ValidationError(field: "url", message: "must be http://host:port/path (at most 2,000 characters)")
        }
        guard let list = json["events"]?.arrayValue, !list.isEmpty, list.count <= 16,
            let names = Optional(list.compactMap(\.stringValue)), names.count == list.count, names.allSatisfy(Self.events.contains)
        else {
            throw ValidationError(field: "events", message: "must be a non-empty list of \(Self.events.sorted().joined(separator: ", "))")
        }
        var days: Int?
        if let value = json["expiring_within_days"], value != .null {
            guard let number = value.int64Value, (1...365).contains(number) else {
                throw ValidationError(field: "expiring_within_days", message: "must be between 1 and 365")
            }
            days = Int(number)
        }
        if names.contains("coupon.expiring") != (days != nil) {
            throw ValidationError(field: "expiring_within_days", message: "is required with coupon.expiring and only with it")
        }
        self.init(id: 0, url: url, secret: secret, events: Array(Set(names)).sorted(), expiringWithinDays: days)
    }

    /// The wire form; the secret only when `withSecret` (once, on creation).
    public func json(withSecret: Bool) -> JSONValue {
        var object = JSONObject()
        object["id"] = .int(id)
        object["url"] = .string(url.text)
        object["events"] = .array(events.map(JSONValue.string))
        object["expiring_within_days"] = expiringWithinDays.map { .int(Int64($0)) } ?? .null
        object["active"] = .bool(active)
        if withSecret { object["secret"] = .string(secret) }
        return .object(object)
    }
}

/// `http://host[:port]/path` — the only endpoints a node delivers to.
public struct WebhookURL: Sendable, Equatable {
    public let text: String
    public let host: String
    public let port: Int
    public let path: String

    public init?(_ text: String) {
        guard text.utf8.count <= 2_000, text.hasPrefix("http://"), text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else { return nil }
        let rest = text.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard !authority.isEmpty, parts.count <= 2, !parts[0].isEmpty else { return nil }
        var port = 80
        if parts.count == 2 {
            guard let number = Int(parts[1]), (1...65535).contains(number) else { return nil }
            port = number
        }
        self.text = text
        self.host = String(parts[0])
        self.port = port
        self.path = path.isEmpty ? "/" : String(path)
    }
}
