/// The fields of a campaign's meta hash `cp:{c:ID}:meta` (ARCHITECTURE §3), named once: the
/// publisher writes them, the claim script reads them, finance reads the counters.
public enum CampaignMeta {
    /// `active`, `paused`, `ended`.
    public static let state = "state"
    /// Claim window, ms since the epoch: `start <= now < end`.
    public static let start = "start"
    public static let end = "end"
    /// Units one user may claim.
    public static let limit = "limit"
    public static let template = "template"
    /// Comma-separated tags of which a claimant must carry one (empty: everyone).
    public static let tags = "tags"
    /// Validity rule: `fixed` (`validFrom`..`validUntil`) or `relative` (`validDays` from the grant).
    public static let validityType = "vtype"
    public static let validFrom = "vfrom"
    public static let validUntil = "vuntil"
    public static let validDays = "vdays"
    /// Exchange campaigns (issue 11): points one coupon costs, and the balance a member needs.
    /// A campaign with a cost is granted only by the exchange script, never by a plain claim.
    public static let pointsCost = "pcost"
    public static let pointsMinimum = "pmin"
    /// `1` when the campaign is targeted at a segment (issue 12): only members of its audience
    /// set `cp:{c:ID}:aud` may claim.
    public static let audience = "aud"
    /// Period caps (issue 12; empty when none): units per user per local day and per ISO week,
    /// units per stock day. The boundaries are in `cp:{c:ID}:pdays` (`PeriodSchedule`).
    public static let userDailyLimit = "udl"
    public static let userWeeklyLimit = "uwl"
    public static let dailyStock = "dst"
    /// Counters: units ever put on sale, units granted.
    public static let stockTotal = "stock_total"
    public static let issued = "issued"

    /// Sharded campaigns (issue 10): the shard count (on every shard; absent = 1, unsharded),
    /// this shard's index, and the units credited to / debited from this shard by stock
    /// transfers. On a shard `stock_total` is the shard's allocation, so per shard
    /// `stock_total + xin - xout = remaining + issued`; over the campaign
    /// `Σ stock_total = Σ remaining + Σ issued + in transit`, in transit = `Σ xout - Σ xin`.
    public static let shards = "shards"
    public static let shard = "shard"
    public static let transferredIn = "xin"
    public static let transferredOut = "xout"

    /// Per-outcome claim counter (`out:granted`, `out:sold_out`, ...).
    public static func outcomeCounter(_ outcome: String) -> String { "out:" + outcome }
}
