/// RiskControl owns the node's abuse-control logic as pure, clock-injected values: token
/// buckets bounded in memory (`TokenBuckets`, shared across loops by `RateLimiter`), the API
/// key cache's expiry and re-validation rules (`CachedKeys`), and who the client is behind
/// trusted proxies (`ClientAddressResolver`). It does no I/O and knows no HTTP, Redis or
/// PostgreSQL: `CouponService` wires it to requests, settings and metrics.
public enum RiskControl {}
