import Glibc
import Synchronization

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

/// A clock that moves only when told to (tests).
public final class ManualNanoClock: NanoClock {
    private let nanos: Atomic<UInt64>

    public init(_ start: UInt64 = 1_000_000_000) { nanos = Atomic(start) }

    public func now() -> UInt64 { nanos.load(ordering: .relaxed) }

    public func advance(milliseconds: UInt64) { nanos.add(milliseconds * 1_000_000, ordering: .relaxed) }
}
