/// A JSON number that keeps integers exact: a literal without fraction or exponent that fits
/// in Int64 is `.integer`; everything else (fractions, exponents, integers beyond Int64) is
/// `.double`, rounded to the nearest Double (1e400 becomes +infinity).
public enum JSONNumber: Sendable, Hashable {
    case integer(Int64)
    case double(Double)

    /// The exact Int64 value, or nil when the number is not an integer in Int64 range
    /// (1.5, 1e400, 2^63). An integral double such as `1e3` or `2.0` converts exactly.
    public var int64Value: Int64? {
        switch self {
        case .integer(let value):
            return value
        case .double(let value):
            // Int64(exactly:) is nil for fractions, NaN, infinities and out-of-range values.
            return Int64(exactly: value)
        }
    }

    /// The value as a Double (integers beyond 2^53 lose precision).
    public var doubleValue: Double {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        }
    }
}

extension JSONNumber: CustomStringConvertible {
    /// JSON text of the number; non-finite doubles have no JSON form and print as `null`.
    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .double(let value): return value.isFinite ? value.description : "null"
        }
    }
}
