/// CouponCore is the pure domain of coupond: JSON values, coupon templates, validity rules,
/// RFC 3339 time, pricing and validation errors. It owns no I/O: it must never import Redis,
/// PostgreSQL, sockets or threads, so every rule here is testable with plain values.
///
/// This namespace holds the input bounds that keep the domain math overflow-free.
public enum CouponCore {
    /// Largest amount a template may carry, in minor units (10^12, i.e. 10 billion CNY).
    public static let maxTemplateAmount: Int64 = 1_000_000_000_000
    /// Largest order amount or shipping fee pricing accepts, in minor units (10^15).
    /// Two of these plus a discount still fit easily in Int64.
    public static let maxOrderAmount: Int64 = 1_000_000_000_000_000
    /// Longest template name, in characters (grapheme clusters).
    public static let maxNameLength = 200
    /// Most entries in one scope list.
    public static let maxScopeEntries = 100
    /// Longest relative validity, in days (10 years).
    public static let maxRelativeDays = 3650
}
