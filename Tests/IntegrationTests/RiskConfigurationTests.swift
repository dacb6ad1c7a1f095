import CouponService
import RiskControl
import Testing

/// The risk-control settings parse from flags and `COUPOND_*` variables, and refuse bad values.
@Suite struct RiskConfigurationTests {
    @Test func defaults() throws {
        let (configuration, rest) = try Configuration.parse(arguments: [], environment: [:])
        #expect(rest.isEmpty)
        #expect(configuration.keyCacheSeconds == 3)
        #expect(configuration.claimUserRate == RateLimit(perSecond: 10, burst: 60))
        #expect(configuration.claimUserRateByCampaign.isEmpty)
        #expect(configuration.keyRate == RateLimit(perSecond: 20_000, burst: 40_000))
        #expect(configuration.addressRate == RateLimit(perSecond: 20_000, burst: 40_000))
        #expect(configuration.codeMissRate == RateLimit(perSecond: 10, burst: 100))
        #expect(configuration.authFailureRate == RateLimit(perSecond: 10, burst: 100))
        #expect(configuration.trustedProxies.trustedProxies.isEmpty)
        #expect(configuration.limiterCapacity == 100_000)
    }

    @Test func flagsAndEnvironment() throws {
        let (configuration, _) = try Configuration.parse(
            arguments: [
                "--claim-user-rate", "2/4", "--claim-user-rate-campaigns", "42=1/5, 43=0", "--key-rate=0", "--trusted-proxies",
                "10.0.0.0/8,::1", "--key-cache-seconds", "1.5",
            ],
            environment: ["COUPOND_CODE_MISS_RATE": "3", "COUPOND_AUTH_FAILURE_RATE": "1/2", "COUPOND_LIMITER_CAPACITY": "5000"])
        #expect(configuration.claimUserRate == RateLimit(perSecond: 2, burst: 4))
        #expect(configuration.claimUserRateByCampaign == [42: RateLimit(perSecond: 1, burst: 5), 43: .unlimited])
        #expect(configuration.keyRate.isUnlimited)
        #expect(configuration.trustedProxies.trustedProxies == [CIDR("10.0.0.0/8")!, CIDR("::1")!])
        #expect(configuration.keyCacheSeconds == 1.5)
        #expect(configuration.codeMissRate == RateLimit(perSecond: 3, burst: 6))
        #expect(configuration.authFailureRate == RateLimit(perSecond: 1, burst: 2))
        #expect(configuration.limiterCapacity == 5_000)
    }

    @Test func badValuesAreRefused() {
        for (name, value) in [
            ("key-cache-seconds", "6"), ("key-cache-seconds", "0"), ("trusted-proxies", "10.0.0.0/99"), ("claim-user-rate", "fast"),
            ("claim-user-rate-campaigns", "x=1"), ("claim-user-rate-campaigns", "1=-2"), ("code-miss-rate", "1/0"),
            ("limiter-capacity", "10"),
        ] {
            #expect(throws: Configuration.Error.self, "\(name) \(value)") {
                _ = try Configuration.parse(arguments: ["--\(name)", value], environment: [:])
            }
        }
    }
}
