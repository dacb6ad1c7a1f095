import CouponCore
import HTTPServer
import RiskControl
import Store
import Synchronization

/// What a key may do; each key has exactly one role (ARCHITECTURE §6).
public enum Role: String, Sendable, CaseIterable {
    case issue, checkout, admin, finance
    /// Earns points for users (the member/order system; issue 11).
    case points
    /// A store's till: write-offs (and redeem/lock/restore) of coupons usable in its store only.
    case store
}

/// Who a request's key acts as: its role and label, and for a `store` key the store (and
/// optionally the business line) it is bound to.
public struct KeyPrincipal: Sendable, Equatable {
    public let role: Role
    public let label: String
    public let storeId: String?
    public let businessLine: String?

    public init(role: Role, label: String = "", storeId: String? = nil, businessLine: String? = nil) {
        self.role = role
        self.label = label
        self.storeId = storeId
        self.businessLine = businessLine
    }

    init?(_ holder: APIKeyStore.Holder) {
        guard let role = Role(rawValue: holder.role) else { return nil }
        self.init(role: role, label: holder.label, storeId: holder.storeId, businessLine: holder.businessLine)
    }
}

/// API keys: `cpk_` + 32 Crockford base32 characters (160 random bits). PostgreSQL keeps
/// only the SHA-256 of a key.
public enum APIKey {
    public static func generate() -> String {
        "cpk_" + CouponCode.random().value + CouponCode.random().value
    }

    public static func hash(_ key: String) -> String { SHA256.hexDigest(key) }

    /// The key of an `Authorization: Bearer <key>` header.
    static func bearer(_ request: HTTPRequest) -> String? {
        // Bytes of the header as read, not Characters or Foundation trimming: one `String`, the
        // key's (a header value holds no whitespace but spaces and tabs).
        request.headers.withFirstValueBytes(for: "authorization") { value -> String? in
            guard let value else { return nil }
            let prefix = "Bearer ".utf8
            guard value.count > prefix.count, value.starts(with: prefix) else { return nil }
            var key = value[prefix.count...]
            while let first = key.first, first == 0x20 || first == 0x09 { key = key.dropFirst() }
            while let last = key.last, last == 0x20 || last == 0x09 { key = key.dropLast() }
            guard !key.isEmpty else { return nil }
            let text = String(decoding: key, as: UTF8.self)
            return key.count <= 200 || text.count <= 200 ? text : nil
        }
    }
}

/// Keys this node has seen, by their raw value, so the hot path hashes nothing; a known key
/// is re-read from PostgreSQL in the background and expires after `key-cache-seconds` (the
/// revocation bound, see `CachedKeys`). Unknown keys are remembered briefly so a flood of bad
/// keys does not become a flood of queries.
public final class KeyCache: Sendable {
    private let state: Mutex<CachedKeys<KeyPrincipal>>
    let clock: any NanoClock

    public init(maxAgeSeconds: Double, clock: any NanoClock = SystemNanoClock()) {
        state = Mutex(CachedKeys(settings: .init(maxAgeNanos: UInt64(maxAgeSeconds * 1e9))))
        self.clock = clock
    }

    func lookup(_ key: String) -> CachedKeys<KeyPrincipal>.Lookup {
        let now = clock.now()
        return state.withLock { $0.lookup(key, now: now) }
    }

    func remember(_ key: String, principal: KeyPrincipal?, startedNanos: UInt64) {
        let now = clock.now()
        state.withLock { $0.remember(key, value: principal, startedNanos: startedNanos, now: now) }
    }

    /// The role to keep serving when PostgreSQL could not be reached (see `CachedKeys.lookupFailed`).
    func lookupFailed(_ key: String, backendUnreachable: Bool) -> KeyPrincipal? {
        state.withLock { $0.lookupFailed(key, backendUnreachable: backendUnreachable) }
    }
}
