import Synchronization

/// `TokenBuckets` shared by every event loop of a node: the table is split into shards, each
/// behind its own lock held only for one bucket update (no I/O), so loops rarely contend.
/// Node-local: N nodes behind a balancer let a key through at up to N × the limit.
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    @usableFromInline
    final class Shard: Sendable {
        @usableFromInline let buckets: Mutex<TokenBuckets<PrehashedKey<Key>>>
        init(capacity: Int) { buckets = Mutex(TokenBuckets(capacity: capacity)) }
    }

    @usableFromInline let shards: [Shard]
    @usableFromInline let clock: any NanoClock

    /// `capacity` bounds the buckets held in total (split evenly across shards).
    public init(capacity: Int, shards: Int = 16, clock: any NanoClock = SystemNanoClock()) {
        let count = max(1, shards)
        self.shards = (0..<count).map { _ in Shard(capacity: max(1, capacity / count)) }
        self.clock = clock
    }

    @inlinable
    func shard(_ key: PrehashedKey<Key>) -> Shard {
        shards[Int(UInt(bitPattern: key.hash) % UInt(shards.count))]
    }

    @inlinable
    public func take(_ key: Key, limit: RateLimit) -> RateDecision {
        guard !limit.isUnlimited else { return .allowed }
        let now = clock.now()
        let key = PrehashedKey(key)
        return shard(key).buckets.withLock { $0.take(key, limit: limit, now: now) }
    }

    @inlinable
    public func refund(_ key: Key) {
        let now = clock.now()
        let key = PrehashedKey(key)
        shard(key).buckets.withLock { $0.refund(key, now: now) }
    }

    @inlinable
    public func isLimited(_ key: Key) -> RateDecision {
        let now = clock.now()
        let key = PrehashedKey(key)
        return shard(key).buckets.withLock { $0.isLimited(key, now: now) }
    }

    /// Buckets held now (all shards).
    public var count: Int { shards.reduce(0) { total, shard in total + shard.buckets.withLock { $0.count } } }
}

/// A key with its hash computed once: choosing the shard and finding the bucket hash the key
/// (an API key, a user id) once instead of twice.
@usableFromInline
struct PrehashedKey<Key: Hashable & Sendable>: Hashable, Sendable {
    @usableFromInline let key: Key
    @usableFromInline let hash: Int

    @inlinable
    init(_ key: Key) {
        self.key = key
        hash = key.hashValue
    }

    @inlinable
    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    @inlinable
    static func == (lhs: PrehashedKey, rhs: PrehashedKey) -> Bool { lhs.hash == rhs.hash && lhs.key == rhs.key }
}
