import Glibc

/// Monotonic time in nanoseconds; injected so limiters and caches are tested with a manual clock.
public protocol NanoClock: Sendable {
    func now() -> UInt64
}

/// `CLOCK_MONOTONIC`.
public struct SystemNanoClock: NanoClock {
    public init() {}

    public func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}
