import CouponService
import EventLoop
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

    @Test func loopTurnsAreRenderedAsOneHistogramSummedOverTheLoops() {
        let metrics = Metrics()
        #expect(!metrics.render(flusher: nil).contains("coupond_loop_turn_seconds"))  // no loops observed yet
        let first = Histogram(bounds: [50, 1_000, 25_000])
        let second = Histogram(bounds: [50, 1_000, 25_000])
        first.record(10)
        first.record(30_000)
        second.record(700)
        second.record(40)
        metrics.observeLoopTurns([first, second])
        let lines = metrics.render(flusher: nil).split(separator: "\n").filter { $0.hasPrefix("coupond_loop_turn_seconds") }
        #expect(
            lines == [
                #"coupond_loop_turn_seconds_bucket{le="5e-05"} 2"#,
                #"coupond_loop_turn_seconds_bucket{le="0.001"} 3"#,
                #"coupond_loop_turn_seconds_bucket{le="0.025"} 3"#,
                #"coupond_loop_turn_seconds_bucket{le="+Inf"} 4"#,
                #"coupond_loop_turn_seconds_sum 0.03075"#,
                #"coupond_loop_turn_seconds_count 4"#,
            ])
    }
}
