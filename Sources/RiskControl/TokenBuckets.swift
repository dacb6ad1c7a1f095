/// Token buckets by key, bounded in memory: a bucket that has refilled completely holds no
/// information (a new bucket starts full), so it is dropped by a sweep; at most `capacity`
/// buckets exist. Pure value: time comes in as monotonic nanoseconds.
///
/// When every slot holds a non-full bucket, an unseen key is allowed without being tracked
/// (fail open): a flood of distinct keys can never evict the bucket of a key that is being
/// limited, and never grows the table.
///
/// The hot methods are `@inlinable`, so a client module (the API's limits) gets them specialized
/// for its key types instead of running generic code that looks up type metadata per call.
public struct TokenBuckets<Key: Hashable & Sendable>: Sendable {
    @usableFromInline
    struct Bucket: Sendable {
        @usableFromInline var tokens: Double
        @usableFromInline var updatedNanos: UInt64
        @usableFromInline var limit: RateLimit

        @inlinable
        init(tokens: Double, updatedNanos: UInt64, limit: RateLimit) {
            self.tokens = tokens
            self.updatedNanos = updatedNanos
            self.limit = limit
        }

        @inlinable
        mutating func take(limit: RateLimit, now: UInt64) -> RateDecision {
            self.limit = limit
            tokens = refilled(at: now) - 1
            updatedNanos = now
            if tokens >= 0 { return .allowed }
            tokens += 1  // a refused attempt takes nothing
            return .limited(retryAfterNanos: UInt64(((1 - tokens) / limit.perSecond * 1e9).rounded(.up)))
        }

        @inlinable
        func refilled(at now: UInt64) -> Double {
            let elapsed = Double(now &- min(now, updatedNanos)) / 1e9
            return min(limit.burst, tokens + elapsed * limit.perSecond)
        }
    }

    public let capacity: Int
    @usableFromInline var buckets: [Key: Bucket] = [:]
    @usableFromInline var lastSweepNanos: UInt64 = 0
    /// Sweeps run at most this often, so a full table costs O(1) amortized per attempt.
    @usableFromInline let sweepIntervalNanos: UInt64

    public init(capacity: Int, sweepIntervalNanos: UInt64 = 1_000_000_000) {
        self.capacity = max(1, capacity)
        self.sweepIntervalNanos = sweepIntervalNanos
    }

    public var count: Int { buckets.count }

    /// Takes one token from `key`'s bucket under `limit`.
    @inlinable
    public mutating func take(_ key: Key, limit: RateLimit, now: UInt64) -> RateDecision {
        guard !limit.isUnlimited else { return .allowed }
        if now &- min(now, lastSweepNanos) >= sweepIntervalNanos * 10 { sweep(now: now) }
        if let index = buckets.index(forKey: key) {
            return buckets.values[index].take(limit: limit, now: now)
        }
        if buckets.count >= capacity, now &- min(now, lastSweepNanos) >= sweepIntervalNanos { sweep(now: now) }
        guard buckets.count < capacity else { return .allowed }
        buckets[key] = Bucket(tokens: limit.burst - 1, updatedNanos: now, limit: limit)
        return .allowed
    }

    /// Gives back a token taken by `take` (the attempt turned out not to count).
    @inlinable
    public mutating func refund(_ key: Key, now: UInt64) {
        guard var bucket = buckets[key] else { return }
        bucket.tokens = min(bucket.limit.burst, bucket.refilled(at: now) + 1)
        bucket.updatedNanos = now
        buckets[key] = bucket
    }

    /// Whether `key`'s bucket is empty now, without taking anything.
    @inlinable
    public func isLimited(_ key: Key, now: UInt64) -> RateDecision {
        guard let bucket = buckets[key], !bucket.limit.isUnlimited else { return .allowed }
        let tokens = bucket.refilled(at: now)
        guard tokens < 1 else { return .allowed }
        return .limited(retryAfterNanos: UInt64(((1 - tokens) / bucket.limit.perSecond * 1e9).rounded(.up)))
    }

    /// Drops every bucket that has refilled completely.
    public mutating func sweep(now: UInt64) {
        lastSweepNanos = now
        buckets = buckets.filter { $0.value.refilled(at: now) < $0.value.limit.burst }
    }
}
