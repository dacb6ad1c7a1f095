import RiskControl
import Testing

@Suite struct CachedKeysTests {
    let second: UInt64 = 1_000_000_000
    static func cache() -> CachedKeys<String> {
        CachedKeys(settings: .init(maxAgeNanos: 3_000_000_000, negativeTTLNanos: 5_000_000_000, negativeCapacity: 3))
    }

    @Test func knownKeyIsRevalidatedInTheBackgroundThenExpires() {
        var cache = Self.cache()
        #expect(cache.lookup("k", now: second) == .miss)
        cache.remember("k", value: "issue", startedNanos: second, now: second)
        #expect(cache.lookup("k", now: 1 * second + 999_999_999) == .known("issue", refresh: false))
        // From a third of the max age: served, and exactly one caller starts a refresh.
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: true))
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: false))
        // The refresh never came back: past the max age the key must be looked up again.
        #expect(cache.lookup("k", now: 4 * second) == .miss)
        // A refresh started at 2 s keeps it until 5 s.
        cache.remember("k", value: "issue", startedNanos: 2 * second, now: 4 * second)
        #expect(cache.lookup("k", now: 4 * second) == .known("issue", refresh: true))
        #expect(cache.lookup("k", now: 5 * second) == .miss)
    }

    @Test func revocationIsSeenByTheNextLookup() {
        var cache = Self.cache()
        cache.remember("k", value: "issue", startedNanos: second, now: second)
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: true))
        cache.remember("k", value: nil, startedNanos: 2 * second, now: 2 * second)
        #expect(cache.lookup("k", now: 2 * second) == .unknown)
        #expect(cache.lookup("k", now: 7 * second) == .miss)
    }

    @Test func anUnreachableBackendKeepsTheLastValue() {
        var cache = Self.cache()
        cache.remember("k", value: "issue", startedNanos: second, now: second)
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: true))
        #expect(cache.lookupFailed("k", backendUnreachable: true) == "issue")
        // Served past the max age, and retried.
        #expect(cache.lookup("k", now: 10 * second) == .known("issue", refresh: true))
        cache.remember("k", value: "issue", startedNanos: 10 * second, now: 10 * second)
        #expect(cache.lookup("k", now: 14 * second) == .miss)
        #expect(cache.lookupFailed("never-seen", backendUnreachable: true) == nil)
    }

    @Test func anOverloadedNodeRetriesWithoutExtendingTheBound() {
        var cache = Self.cache()
        cache.remember("k", value: "issue", startedNanos: second, now: second)
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: true))
        #expect(cache.lookupFailed("k", backendUnreachable: false) == nil)
        #expect(cache.lookup("k", now: 2 * second) == .known("issue", refresh: true))
        #expect(cache.lookup("k", now: 4 * second) == .miss)
    }

    @Test func anOlderAnswerDoesNotReplaceANewerOne() {
        var cache = Self.cache()
        cache.remember("k", value: "issue", startedNanos: 5 * second, now: 5 * second)
        cache.remember("k", value: "issue", startedNanos: 2 * second, now: 6 * second)
        #expect(cache.lookup("k", now: 5 * second + 500_000_000) == .known("issue", refresh: false))
    }

    @Test func negativeEntriesAreBoundedAndExpire() {
        var cache = Self.cache()
        for index in 0..<10 { cache.remember("bad\(index)", value: nil, startedNanos: second, now: second) }
        #expect(cache.unknownCount == 3)
        #expect(cache.lookup("bad0", now: second) == .unknown)
        #expect(cache.lookup("bad9", now: second) == .miss)
        #expect(cache.lookup("bad0", now: 6 * second) == .miss)
        // Expired entries make room again.
        cache.remember("late", value: nil, startedNanos: 7 * second, now: 7 * second)
        #expect(cache.lookup("late", now: 7 * second) == .unknown)
    }
}
