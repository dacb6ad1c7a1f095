/// A token-bucket limit: `perSecond` tokens are added each second up to `burst`; each
/// attempt takes one. `perSecond == 0` means "no limit".
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
    }

    public static let unlimited = RateLimit(perSecond: 0, burst: 1)
    public var isUnlimited: Bool { perSecond <= 0 }

    /// Nanoseconds an empty bucket takes to refill completely.
    var refillNanos: UInt64 { isUnlimited ? 0 : UInt64((burst / perSecond * 1e9).rounded(.up)) }

    /// Parses `rate` or `rate/burst` (`"5"`, `"5/10"`, `"0.5/3"`); burst defaults to 2 × rate (at least 1).
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let rate = Double(parts[0]), rate.isFinite, rate >= 0, rate <= 1e9 else { return nil }
        var burst = max(1, (rate * 2).rounded(.up))
        if parts.count == 2 {
            guard let value = Double(parts[1]), value.isFinite, value >= 1, value <= 1e9 else { return nil }
            burst = value
        }
        self.init(perSecond: rate, burst: burst)
    }

    public var description: String { isUnlimited ? "0" : "\(Self.format(perSecond))/\(Self.format(burst))" }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}

/// What a limiter answers for one attempt.
public enum RateDecision: Sendable, Equatable {
    case allowed
    /// Refused; a token is available again after this many nanoseconds.
    case limited(retryAfterNanos: UInt64)

    /// `Retry-After` in whole seconds, at least 1.
    public var retryAfterSeconds: Int {
        guard case .limited(let nanos) = self else { return 0 }
        return max(1, Int((nanos + 999_999_999) / 1_000_000_000))
    }
}
