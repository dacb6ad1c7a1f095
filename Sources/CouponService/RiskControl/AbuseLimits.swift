import HTTPServer
import RiskControl
import Synchronization

/// Which limiter refused; the `limiter` label of `coupond_rate_limited_total` (a closed set).
public enum Limiter: String, Sendable, CaseIterable {
    case claimUser = "claim_user"
    case apiKey = "api_key"
    case address
    case codeMiss = "code_miss"
    case authFailure = "auth_failure"
}

/// Refusals per limiter, for `/metrics`.
public final class RateLimitedCounters: Sendable {
    private let counts = Mutex<[Limiter: Int]>([:])

    public init() {}

    func add(_ limiter: Limiter) {
        counts.withLock { $0[limiter, default: 0] += 1 }
    }

    public func count(_ limiter: Limiter) -> Int {
        counts.withLock { $0[limiter] ?? 0 }
    }

    func render() -> String {
        var out = "# HELP coupond_rate_limited_total Requests refused with 429 rate_limited, by limiter.\n"
        out += "# TYPE coupond_rate_limited_total counter\n"
        for limiter in Limiter.allCases { out += "coupond_rate_limited_total{limiter=\"\(limiter.rawValue)\"} \(count(limiter))\n" }
        return out
    }
}

/// The node's risk control (风控): node-local token buckets, checked in memory before any
/// backend is asked. Every limit is per node: behind a balancer spreading a client over N
/// nodes, the client gets up to N × each rate.
final class AbuseLimits: Sendable {
    /// A per-user claim bucket: one per user and campaign.
    struct UserCampaign: Hashable, Sendable {
        let campaignId: Int64
        let userId: String
    }

    /// Who a request-rate or code-miss bucket counts: the API key or the client address.
    enum Subject: Hashable, Sendable {
        case key(String)
        case address(String)
    }

    private let configuration: Configuration
    private let counters: RateLimitedCounters
    private let claims: RateLimiter<UserCampaign>
    private let requests: RateLimiter<Subject>
    private let codeMisses: RateLimiter<Subject>
    private let authFailures: RateLimiter<String>

    init(configuration: Configuration, counters: RateLimitedCounters, clock: any NanoClock = SystemNanoClock()) {
        self.configuration = configuration
        self.counters = counters
        let capacity = configuration.limiterCapacity
        claims = RateLimiter(capacity: capacity, clock: clock)
        requests = RateLimiter(capacity: capacity, clock: clock)
        codeMisses = RateLimiter(capacity: capacity, clock: clock)
        authFailures = RateLimiter(capacity: capacity, clock: clock)
    }

    /// The client's address as limits count it (see `ClientAddressResolver`); the peer as sent
    /// by the server when it is not an address.
    func clientAddress(_ request: HTTPRequest) -> String {
        let resolver = configuration.trustedProxies
        // Fast path: no proxy trusted and an IPv4 peer, which the server already wrote in canonical form.
        if resolver.trustedProxies.isEmpty, !request.peerAddress.utf8.contains(UInt8(ascii: ":")) { return request.peerAddress }
        let forwarded = resolver.trustedProxies.isEmpty ? [] : request.headers.values(for: "x-forwarded-for")
        return resolver.client(peer: request.peerAddress, forwardedFor: forwarded)?.limiterKey ?? request.peerAddress
    }

    /// One claim attempt of `userId` on `campaignId`.
    func claimAttempt(campaignId: Int64, userId: String) -> RateDecision {
        let limit = configuration.claimUserRateByCampaign[campaignId] ?? configuration.claimUserRate
        return counted(.claimUser, claims.take(UserCampaign(campaignId: campaignId, userId: userId), limit: limit))
    }

    /// One authenticated request of `key` from `address`.
    func request(key: String, address: String) -> (RateDecision, Limiter) {
        let byKey = counted(.apiKey, requests.take(.key(key), limit: configuration.keyRate))
        guard byKey == .allowed else { return (byKey, .apiKey) }
        return (counted(.address, requests.take(.address(address), limit: configuration.addressRate)), .address)
    }

    /// Before a key lookup: is `address` refused for too many failed authentications?
    func authFailuresExceeded(address: String) -> RateDecision {
        counted(.authFailure, authFailures.isLimited(address))
    }

    /// An unknown or revoked key was presented from `address`.
    func authFailed(address: String) {
        _ = authFailures.take(address, limit: configuration.authFailureRate)
    }

    /// Before a redeem/lock: takes a code-miss token from the key and the address; `codeFound`
    /// gives them back once the code turned out to exist for this user.
    func codeAttempt(key: String, address: String) -> RateDecision {
        let limit = configuration.codeMissRate
        guard !limit.isUnlimited else { return .allowed }
        let byKey = codeMisses.take(.key(key), limit: limit)
        guard byKey == .allowed else { return counted(.codeMiss, byKey) }
        let byAddress = codeMisses.take(.address(address), limit: limit)
        if byAddress != .allowed { codeMisses.refund(.key(key)) }
        return counted(.codeMiss, byAddress)
    }

    func codeFound(key: String, address: String) {
        guard !configuration.codeMissRate.isUnlimited else { return }
        codeMisses.refund(.key(key))
        codeMisses.refund(.address(address))
    }

    private func counted(_ limiter: Limiter, _ decision: RateDecision) -> RateDecision {
        if decision != .allowed { counters.add(limiter) }
        return decision
    }
}
