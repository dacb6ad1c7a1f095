/// What a node remembers about API keys, as a pure state machine (time comes in as
/// monotonic nanoseconds). A known key's value is served while younger than `maxAge`; from
/// `refreshAfter` on, the first lookup asks for a background re-validation; once `maxAge` has
/// passed, the key is a miss and the request waits for PostgreSQL. So a revocation committed
/// at time r is seen by every request after r + `maxAge` (a re-validation is timed from when
/// it was started, before its query runs).
///
/// Exception, on purpose: when a re-validation failed because the backend is unreachable,
/// the last value keeps being served (and re-validated) so an outage of PostgreSQL does not
/// stop claims, which never need it otherwise.
///
/// Unknown keys are remembered for `negativeTTL`, at most `negativeCapacity` of them.
public struct CachedKeys<Value: Sendable & Equatable>: Sendable {
    public struct Settings: Sendable {
        public var refreshAfterNanos: UInt64
        public var maxAgeNanos: UInt64
        public var negativeTTLNanos: UInt64
        public var negativeCapacity: Int

        public init(maxAgeNanos: UInt64, negativeTTLNanos: UInt64 = 5_000_000_000, negativeCapacity: Int = 10_000) {
            self.maxAgeNanos = max(1, maxAgeNanos)
            refreshAfterNanos = self.maxAgeNanos / 3
            self.negativeTTLNanos = negativeTTLNanos
            self.negativeCapacity = max(1, negativeCapacity)
        }
    }

    public enum Lookup: Sendable, Equatable {
        /// Serve `value`; with `refresh`, the caller starts a background re-validation.
        case known(Value, refresh: Bool)
        case unknown
        /// Not known (or too old): look it up before serving.
        case miss
    }

    struct Known: Sendable {
        var value: Value
        var validatedNanos: UInt64
        var refreshing = false
        var backendFailing = false
    }

    public let settings: Settings
    private var known: [String: Known] = [:]
    private var unknownUntil: [String: UInt64] = [:]
    private var lastNegativeSweep: UInt64 = 0

    public init(settings: Settings) { self.settings = settings }

    public var unknownCount: Int { unknownUntil.count }

    public mutating func lookup(_ key: String, now: UInt64) -> Lookup {
        if var entry = known[key] {
            let age = now &- min(now, entry.validatedNanos)
            if age < settings.refreshAfterNanos { return .known(entry.value, refresh: false) }
            guard age < settings.maxAgeNanos || entry.backendFailing else { return .miss }
            let refresh = !entry.refreshing
            entry.refreshing = true
            known[key] = entry
            return .known(entry.value, refresh: refresh)
        }
        if let until = unknownUntil[key] {
            if until > now { return .unknown }
            unknownUntil[key] = nil
        }
        return .miss
    }

    /// Until when (monotonic nanoseconds, exclusive) `lookup` answers `.known(value, refresh: false)`
    /// for `key` if nothing is remembered or fails meanwhile; nil when `key` is not known.
    public func freshUntil(_ key: String) -> UInt64? {
        known[key].map { $0.validatedNanos &+ settings.refreshAfterNanos }
    }

    /// A lookup or re-validation started at `startedNanos` found `value` (nil: unknown or revoked).
    public mutating func remember(_ key: String, value: Value?, startedNanos: UInt64, now: UInt64) {
        guard let value else {
            known[key] = nil
            rememberUnknown(key, now: now)
            return
        }
        unknownUntil[key] = nil
        if let entry = known[key], entry.validatedNanos > startedNanos, !entry.backendFailing { return }  // a newer answer won
        known[key] = Known(value: value, validatedNanos: startedNanos)
    }

    /// A lookup or re-validation failed. With `backendUnreachable`, returns the last known
    /// value, which keeps being served until a re-validation succeeds; otherwise (e.g. the node
    /// is overloaded) nothing changes but a later lookup retries.
    @discardableResult
    public mutating func lookupFailed(_ key: String, backendUnreachable: Bool) -> Value? {
        guard var entry = known[key] else { return nil }
        entry.refreshing = false
        if backendUnreachable { entry.backendFailing = true }
        known[key] = entry
        return entry.backendFailing ? entry.value : nil
    }

    private mutating func rememberUnknown(_ key: String, now: UInt64) {
        if unknownUntil.count >= settings.negativeCapacity, now &- min(now, lastNegativeSweep) >= 100_000_000 {
            lastNegativeSweep = now
            unknownUntil = unknownUntil.filter { $0.value > now }
        }
        // Full of live entries: not remembered (the per-address failure limit bounds the lookups).
        guard unknownUntil.count < settings.negativeCapacity else { return }
        unknownUntil[key] = now &+ settings.negativeTTLNanos
    }
}
