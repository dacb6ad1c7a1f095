/// A latency histogram with log-scale buckets: exact below 16 µs, then 16 buckets per power
/// of two (≤ 6.25 % relative error), up to hours. Values are recorded in microseconds.
struct LatencyHistogram {
    static let bucketCount = 16 + 40 * 16
    private(set) var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    private(set) var total: UInt64 = 0
    private(set) var maxMicros: UInt64 = 0
    private(set) var sumMicros: UInt64 = 0

    static func bucket(_ micros: UInt64) -> Int {
        if micros < 16 { return Int(micros) }
        let exponent = 63 - micros.leadingZeroBitCount  // ≥ 4
        let sub = Int((micros >> UInt64(exponent - 4)) & 15)
        return min(16 + (exponent - 4) * 16 + sub, bucketCount - 1)
    }

    /// The largest value that falls in `bucket` (percentiles report the upper edge).
    static func upperEdge(_ bucket: Int) -> UInt64 {
        if bucket < 16 { return UInt64(bucket) }
        let exponent = (bucket - 16) / 16 + 4
        let sub = UInt64((bucket - 16) % 16)
        return ((16 + sub + 1) << UInt64(exponent - 4)) - 1
    }

    mutating func record(micros: UInt64) {
        counts[Self.bucket(micros)] += 1
        total += 1
        sumMicros &+= micros
        if micros > maxMicros { maxMicros = micros }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in 0..<counts.count { counts[index] += other.counts[index] }
        total += other.total
        sumMicros &+= other.sumMicros
        maxMicros = max(maxMicros, other.maxMicros)
    }

    /// The value at quantile `q` (0...1), in microseconds; 0 when empty.
    func percentile(_ q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = UInt64((Double(total) * q).rounded(.up))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= max(rank, 1) { return min(Self.upperEdge(index), maxMicros) }
        }
        return maxMicros
    }

    var meanMicros: Double { total == 0 ? 0 : Double(sumMicros) / Double(total) }
}
