import Foundation

/// The run's figures as printed, written to JSON and drawn as SVG.
struct RunReport {
    var label: String
    var mode: String
    var campaignId: Int64
    var targets: [String]
    var connections: Int
    var loops: Int
    var rate: Double?
    var elapsedSeconds: Double
    var stats: LoopStats
    var checks: [CheckResult]
    var lag: FlushLag?

    var answered: Int { Int(stats.histogram.total) }
    var throughput: Double { elapsedSeconds > 0 ? Double(answered) / elapsedSeconds : 0 }

    func millis(_ micros: UInt64) -> Double { Double(micros) / 1000 }

    /// Throughput and p99 of each whole second, skipping a trailing partial second.
    var seconds: [(count: Int, p99Ms: Double)] {
        let full = Int(elapsedSeconds)
        return stats.perSecondCount.indices.prefix(max(full, 1)).map {
            (stats.perSecondCount[$0], millis(stats.perSecondHistogram[$0].percentile(0.99)))
        }
    }

    var text: String {
        let h = stats.histogram
        var lines: [String] = []
        lines.append("== \(label): \(mode), campaign \(campaignId), \(connections) connections on \(loops) loop(s) → \(targets.joined(separator: ","))")
        lines.append(String(format: "answered %d claims in %.2f s: %.0f claims/s (sent %d, retries %d, timeouts %d, connection errors %d, unknown %d)",
                            answered, elapsedSeconds, throughput, stats.sent, stats.retries, stats.timeouts, stats.connectionErrors, stats.unknown))
        lines.append(String(format: "latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f%@",
                            millis(h.percentile(0.5)), millis(h.percentile(0.9)), millis(h.percentile(0.99)),
                            millis(h.percentile(0.999)), millis(h.maxMicros), h.meanMicros / 1000,
                            rate == nil ? "" : " (from the scheduled send time)"))
        lines.append("outcomes: " + stats.outcomes.sorted { $0.value > $1.value }.map { "\($0.key)=\($0.value)" }.joined(separator: "  "))
        lines.append("per second (claims/s | p99 ms): " + seconds.map { String(format: "%d|%.2f", $0.count, $0.p99Ms) }.joined(separator: " "))
        if let lag {
            lines.append(String(format: "grant→PostgreSQL lag ms: p50 %.1f  p99 %.1f  max %.1f (%d rows)", lag.p50Ms, lag.p99Ms, lag.maxMs, lag.rows))
        }
        for check in checks { lines.append("\(check.passed ? "PASS" : "FAIL")  \(check.name): \(check.detail)") }
        if checks.isEmpty { lines.append("(invariants not checked: pass --redis and --postgres)") }
        return lines.joined(separator: "\n")
    }

    var json: [String: Any] {
        let h = stats.histogram
        var object: [String: Any] = [
            "label": label, "mode": mode, "campaign_id": campaignId, "targets": targets, "connections": connections,
            "loops": loops, "elapsed_seconds": elapsedSeconds, "answered": answered, "sent": stats.sent,
            "claims_per_second": throughput, "retries": stats.retries, "timeouts": stats.timeouts,
            "connection_errors": stats.connectionErrors, "unknown": stats.unknown, "outcomes": stats.outcomes,
            "latency_ms": [
                "p50": millis(h.percentile(0.5)), "p90": millis(h.percentile(0.9)), "p99": millis(h.percentile(0.99)),
                "p99.9": millis(h.percentile(0.999)), "max": millis(h.maxMicros), "mean": h.meanMicros / 1000,
            ],
            // Non-empty buckets as [upper edge µs, count]: runs can be pooled (e.g. every phase of one kind).
            "latency_buckets_us": h.counts.indices.filter { h.counts[$0] > 0 }.map { [LatencyHistogram.upperEdge($0), h.counts[$0]] },
            "per_second": seconds.map { ["claims": $0.count, "p99_ms": $0.p99Ms] },
            "checks": checks.map { ["name": $0.name, "passed": $0.passed, "detail": $0.detail] },
            "passed": checks.allSatisfy(\.passed),
        ]
        if let rate { object["rate"] = rate }
        // Longest span in which a sold_out was answered while a later claim was still granted.
        if let first = stats.firstSoldOutNs, let last = stats.lastGrantNs {
            object["refused_while_stock_window_ms"] = last > first ? Double(last - first) / 1e6 : 0
        } else {
            object["refused_while_stock_window_ms"] = 0
        }
        if let lag { object["flush_lag_ms"] = ["p50": lag.p50Ms, "p99": lag.p99Ms, "max": lag.maxMs, "rows": lag.rows] }
        return object
    }

    /// Throughput (bars, left axis) and p99 latency (line, right axis) per second.
    var svg: String {
        let series = seconds
        let width = 800.0, height = 360.0, left = 60.0, right = 60.0, top = 40.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxCount = Double(max(series.map(\.count).max() ?? 1, 1))
        let maxP99 = max(series.map(\.p99Ms).max() ?? 1, 0.001)
        let step = plotW / Double(max(series.count, 1))
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="13">\(label): claims/s (bars) and p99 ms (line) per second</text>
            <line x1="\(left)" y1="\(top + plotH)" x2="\(left + plotW)" y2="\(top + plotH)" stroke="black"/>
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + plotH)" stroke="black"/>
            <line x1="\(left + plotW)" y1="\(top)" x2="\(left + plotW)" y2="\(top + plotH)" stroke="black"/>
            <text x="\(left - 4)" y="\(top + 4)" text-anchor="end">\(Int(maxCount))</text>
            <text x="\(left - 4)" y="\(top + plotH)" text-anchor="end">0</text>
            <text x="\(left + plotW + 4)" y="\(top + 4)" fill="crimson">\(String(format: "%.2f", maxP99)) ms</text>
            <text x="\(left + plotW + 4)" y="\(top + plotH)" fill="crimson">0</text>
            <text x="\(left + plotW / 2)" y="\(height - 10)" text-anchor="middle">seconds</text>

            """
        var points: [String] = []
        for (index, second) in series.enumerated() {
            let barH = plotH * Double(second.count) / maxCount
            let x = left + Double(index) * step
            out += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"steelblue\"/>\n",
                          x + step * 0.1, top + plotH - barH, step * 0.8, barH)
            points.append(String(format: "%.1f,%.1f", x + step / 2, top + plotH - plotH * second.p99Ms / maxP99))
        }
        out += "<polyline fill=\"none\" stroke=\"crimson\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n</svg>\n"
        return out
    }
}
