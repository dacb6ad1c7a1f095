/// When a claimed coupon may be used: a fixed calendar window shared by every coupon of
/// the template, or a number of days counted from the claim instant. Windows are inclusive
/// at both ends, in epoch milliseconds (UTC).
public enum ValidityRule: Sendable, Equatable, Hashable {
    case fixed(fromMs: Int64, untilMs: Int64)
    case relative(days: Int)

    static let millisecondsPerDay: Int64 = 86_400_000

    /// The usable window of a coupon claimed at `claimedAtMs`. A relative rule runs from the
    /// claim instant to exactly `days` × 24 h later (saturating instead of overflowing).
    public func window(claimedAtMs: Int64) -> (fromMs: Int64, untilMs: Int64) {
        switch self {
        case .fixed(let fromMs, let untilMs):
            return (fromMs, untilMs)
        case .relative(let days):
            let (span, spanOverflow) = Int64(max(0, days)).multipliedReportingOverflow(by: Self.millisecondsPerDay)
            let (until, overflow) = claimedAtMs.addingReportingOverflow(span)
            return (claimedAtMs, spanOverflow || overflow ? Int64.max : until)
        }
    }

    /// Whether a coupon claimed at `claimedAtMs` is usable at `nowMs` (inclusive window).
    public func isUsable(claimedAtMs: Int64, nowMs: Int64) -> Bool {
        let window = window(claimedAtMs: claimedAtMs)
        return window.fromMs <= nowMs && nowMs <= window.untilMs
    }

    /// The problems with this rule, empty when it can be stored. `field` is the wire path
    /// prefix (`validity`).
    public func validationErrors(field: String = "validity") -> [ValidationError] {
        switch self {
        case .fixed(let fromMs, let untilMs):
            if untilMs <= fromMs { return [ValidationError(field: "\(field).until", message: "must be after from")] }
        case .relative(let days):
            if days < 1 || days > CouponCore.maxRelativeDays {
                return [ValidationError(field: "\(field).days", message: "must be an integer from 1 to \(CouponCore.maxRelativeDays)")]
            }
        }
        return []
    }
}
