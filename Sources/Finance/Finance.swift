/// Finance: campaign statistics, the reconciliation report and its exports (issue 4).
///
/// Owns the read-only questions finance asks: what happened per campaign and per day, what
/// is still owed, and whether Redis, the grant stream and PostgreSQL agree. Reads
/// `coupon_events` (period figures), `coupons` (rows), and the Redis counters and stream
/// (checks). Never writes anywhere.
public enum Finance {}

/// Why a finance request cannot be answered; `code` is the API's stable error code.
public struct FinanceError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case notFound = "not_found"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalid(_ message: String) -> FinanceError { FinanceError(.invalidRequest, message) }
}

/// Fixed-point ratios for reports: integers only, 4 decimals, half away from zero.
enum Ratio {
    /// `numerator / denominator` as "0.3333"; nil when the denominator is 0.
    static func format(_ numerator: Int64, _ denominator: Int64, places: Int = 4) -> String? {
        guard denominator != 0 else { return nil }
        let negative = (numerator < 0) != (denominator < 0)
        let n = numerator.magnitude, d = denominator.magnitude
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        // Whole part first; the remainder × scale stays below d × scale, so its 128-bit
        // quotient fits in 64 bits and large money sums never overflow.
        var whole = n / d
        let (q, r) = d.dividingFullWidth((n % d).multipliedFullWidth(by: scale))
        var fraction = q + (r >= d - r ? 1 : 0)
        if fraction == scale {
            whole += 1
            fraction = 0
        }
        var digits = String(fraction)
        digits = String(repeating: "0", count: places - digits.count) + digits
        return (negative && (whole != 0 || fraction != 0) ? "-" : "") + "\(whole).\(digits)"
    }
}
