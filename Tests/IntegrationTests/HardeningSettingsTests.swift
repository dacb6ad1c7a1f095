import CouponService
import Testing

/// The HTTP hardening settings (flags and COUPOND_* variables) and the closed metric labels.
@Suite struct HardeningSettingsTests {
    @Test func settingsParseFromFlagsAndEnvironment() throws {
        let (configuration, rest) = try Configuration.parse(
            arguments: ["--request-timeout-seconds", "12.5", "--min-body-rate-bytes=0", "--max-pipelined-requests", "8"],
            environment: ["COUPOND_MAX_OUTPUT_BYTES": "65536", "COUPOND_BODY_RATE_GRACE_SECONDS": "2"])
        #expect(rest == [])
        #expect(configuration.requestTimeoutSeconds == 12.5)
        #expect(configuration.minBodyRateBytes == 0)
        #expect(configuration.maxPipelinedRequests == 8)
        #expect(configuration.maxOutputBytes == 65536)
        #expect(configuration.bodyRateGraceSeconds == 2)
        let defaults = Configuration()
        #expect(
            [defaults.requestTimeoutSeconds, Double(defaults.minBodyRateBytes), defaults.bodyRateGraceSeconds]
                == [30, 1024, 5])
        #expect([defaults.maxOutputBytes, defaults.maxPipelinedRequests] == [262_144, 64])
        #expect(throws: Configuration.Error.self) {
            try Configuration.parse(arguments: ["--max-output-bytes", "100"], environment: [:])
        }
    }

    @Test func requestMetricLabelsComeFromAClosedSet() {
        let metrics = Metrics()
        metrics.recordRequest(route: "/healthz", method: "GET", status: 200, latencyNanos: 1_000)
        for index in 0..<100 {
            metrics.recordRequest(route: "unmatched", method: "X\(index)-JUNK", status: 501, latencyNanos: 1_000)
        }
        metrics.recordRequest(route: "unmatched", method: "get", status: 99_999, latencyNanos: 1_000)
        let lines = metrics.render(flusher: nil).split(separator: "\n").filter { $0.hasPrefix("coupond_http_requests_total{") }
        #expect(
            lines == [
                #"coupond_http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
                #"coupond_http_requests_total{route="unmatched",method="other",status="0"} 1"#,
                #"coupond_http_requests_total{route="unmatched",method="other",status="501"} 100"#,
            ])
    }
}
