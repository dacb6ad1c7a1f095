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
        withBearerBytes(request) { key -> String? in
            guard let key else { return nil }
            let text = String(decoding: key, as: UTF8.self)
            return key.count <= 200 || text.count <= 200 ? text : nil
        }
    }

    /// Lends `body` the bytes `bearer` makes its `String` of (nil when there is none).
    static func withBearerBytes<R>(_ request: HTTPRequest, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        // Bytes of the header as read, not Characters or Foundation trimming (a header value
        // holds no whitespace but spaces and tabs).
        request.headers.withFirstValueBytes(for: "authorization") { value -> R in
            guard let value else { return body(nil) }
            let prefix = "Bearer ".utf8
            guard value.count > prefix.count, value.starts(with: prefix) else { return body(nil) }
            var key = value[prefix.count...]
            while let first = key.first, first == 0x20 || first == 0x09 { key = key.dropFirst() }
            while let last = key.last, last == 0x20 || last == 0x09 { key = key.dropLast() }
            guard !key.isEmpty else { return body(nil) }
            return body(UnsafeBufferPointer(rebasing: key))
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
    /// Counts every change of a known key's entry (`remember`, `lookupFailed`), so a loop's
    /// `LastKey` knows its copy is still what `lookup` would answer.
    private let changes = Atomic<UInt64>(0)

    public init(maxAgeSeconds: Double, clock: any NanoClock = SystemNanoClock()) {
        state = Mutex(CachedKeys(settings: .init(maxAgeNanos: UInt64(maxAgeSeconds * 1e9))))
        self.clock = clock
    }

    func lookup(_ key: String) -> CachedKeys<KeyPrincipal>.Lookup {
        let now = clock.now()
        return state.withLock { $0.lookup(key, now: now) }
    }

    /// `lookup`, with until when its answer stays the same and the change count it was read at
    /// (what `LastKey` keeps).
    func lookupFresh(_ key: String) -> (lookup: CachedKeys<KeyPrincipal>.Lookup, freshUntil: UInt64, version: UInt64) {
        let now = clock.now()
        return state.withLock { state in
            let lookup = state.lookup(key, now: now)
            return (lookup, state.freshUntil(key) ?? 0, changes.load(ordering: .acquiring))
        }
    }

    var version: UInt64 { changes.load(ordering: .acquiring) }

    func remember(_ key: String, principal: KeyPrincipal?, startedNanos: UInt64) {
        let now = clock.now()
        state.withLock {
            $0.remember(key, value: principal, startedNanos: startedNanos, now: now)
            changes.add(1, ordering: .releasing)
        }
    }

    /// The role to keep serving when PostgreSQL could not be reached (see `CachedKeys.lookupFailed`).
    func lookupFailed(_ key: String, backendUnreachable: Bool) -> KeyPrincipal? {
        state.withLock {
            changes.add(1, ordering: .releasing)
            return $0.lookupFailed(key, backendUnreachable: backendUnreachable)
        }
    }
}

/// The API key one loop authenticated last, so the next request bearing the same key (a
/// client's connection sends it with every request) is authenticated without a key `String`,
/// the cache's lock or a hash of the key. It answers only what `KeyCache.lookup` would: a key
/// known and younger than the refresh age, while the cache has not changed since it was read.
final class LastKey: @unchecked Sendable {  // confined to one loop
    private(set) var key = ""
    private var principal: KeyPrincipal?
    private var freshUntil: UInt64 = 0
    private var version: UInt64 = 0

    /// The principal of `bytes` when they are the remembered key and its answer still holds.
    func principal(bearing bytes: UnsafeBufferPointer<UInt8>, now: UInt64, version current: UInt64) -> KeyPrincipal? {
        guard let principal, now < freshUntil, version == current, bytes.count == key.utf8.count,
            key.utf8.elementsEqual(bytes)
        else { return nil }
        return principal
    }

    func remember(_ key: String, principal: KeyPrincipal, freshUntil: UInt64, version: UInt64) {
        self.key = key
        self.principal = principal
        self.freshUntil = freshUntil
        self.version = version
    }
}
