/// How fast a bulk job may send lines to Redis (a pure policy, tested with a given clock):
/// never above `maxLinesPerSecond` (0 = no cap), and — claims first — at most
/// `yieldLinesPerSecond` while the node answers at least `yieldAboveClaimsPerSecond` claims a
/// second: a job decides lines as fast as Redis can, which on a sale's Redis leaves claims
/// queueing behind it (claim p99 at 2,000/s went from 6 ms to 750 ms during an unpaced job on
/// the 2-core test machine). The claim rate is measured from the node's claim counter over
/// windows of at least `windowSeconds`.
public struct BulkPacing: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxLinesPerSecond = 0
        public var yieldLinesPerSecond = 5_000
        public var yieldAboveClaimsPerSecond = 500
        public init() {}
    }

    public let limits: Limits
    public let windowSeconds: Double
    /// Claims per second over the last complete window.
    public private(set) var claimsPerSecond = 0.0
    private var window: (startedAt: Double, claims: Int)?
    /// When the next line may go (a token bucket of one call's depth).
    private var nextAt = 0.0

    public init(limits: Limits, windowSeconds: Double = 0.25) {
        self.limits = limits
        self.windowSeconds = windowSeconds
    }

    /// The cap now, in lines per second; 0 = none.
    public var linesPerSecond: Int {
        let yielding = limits.yieldLinesPerSecond > 0 && claimsPerSecond >= Double(max(1, limits.yieldAboveClaimsPerSecond))
        switch (limits.maxLinesPerSecond, yielding) {
        case (0, false): return 0
        case (0, true): return limits.yieldLinesPerSecond
        case (let cap, false): return cap
        case (let cap, true): return min(cap, limits.yieldLinesPerSecond)
        }
    }

    /// Records the node's claim counter (`claims`, monotonic) at `now` (seconds).
    public mutating func observe(claims: Int, now: Double) {
        guard let window else {
            self.window = (now, claims)
            return
        }
        let elapsed = now - window.startedAt
        guard elapsed >= windowSeconds else { return }
        claimsPerSecond = Double(max(0, claims - window.claims)) / elapsed
        self.window = (now, claims)
    }

    /// Seconds to wait before sending `lines` at `now`; books them.
    public mutating func delay(sending lines: Int, now: Double) -> Double {
        let rate = linesPerSecond
        guard rate > 0 else {
            nextAt = now
            return 0
        }
        let start = max(nextAt, now)
        nextAt = start + Double(lines) / Double(rate)
        return start - now
    }
}
