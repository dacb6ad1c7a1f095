/// Redemption owns checkout: pricing a user's wallet against an order, redeem, the
/// lock → confirm / release two-phase use, restore after a refund, and expiry.
///
/// Every state change of a coupon and its `coupon_events` row are written in one
/// PostgreSQL transaction, under a row lock (`SELECT ... FOR UPDATE`). The decision itself
/// is a pure function (`CouponLifecycle`), so its rules are tested without a database.
/// Redemption never touches the claim path: it reads Redis only to find a grant that the
/// flusher has not written yet, and writes it with `GrantWriter` (idempotent).
public enum Redemption {
    /// Longest lock a checkout may hold while payment runs.
    public static let maxLockSeconds: Int64 = 3600
}
