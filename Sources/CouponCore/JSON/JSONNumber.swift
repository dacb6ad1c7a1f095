/// A JSON number that keeps integers exact: a literal without fraction or exponent that fits
/// in Int64 is `.integer`; everything else (fractions, exponents, integers beyond Int64) is
/// `.double`, rounded to the nearest Double (1e400 becomes +infinity).
public enum JSONNumber: Sendable, Hashable {
    case integer(Int64)
    case double(Double)

    /// The exact Int64 value of an integer literal; nil for anything written with a fraction
    /// or exponent (1.5, 1e3, 1e400) and for integers beyond Int64 (2^63). Doubles are never
    /// converted: once rounded, a double cannot prove the literal was that integer.
    public var int64Value: Int64? {
        if case .integer(let value) = self { return value }
        return nil
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
