import CouponCore
import Foundation

/// A bulk grant job as stored: its checkpoint (`done`: lines `1...done` are decided) and the
/// counters of exactly those lines.
public struct BulkJob: Sendable, Equatable {
    public enum State: String, Sendable {
        case queued, running, done, cancelled, failed
        public var isFinished: Bool { self == .done || self == .cancelled || self == .failed }
    }

    public let id: Int64
    public let campaignId: Int64
    public var state: State
    public let total: Int64
    public var done: Int64
    public var granted: Int64
    /// Refused lines by reason (`sold_out`, `limit_reached`, ... — the claim refusal codes).
    public var refused: [String: Int64]
    public var leaseOwner: String?
    public var resumes: Int
    /// Lines decided per second since the current lease was taken; nil before a run.
    public var ratePerSecond: Double?
    public var createdAt: Date
    public var finishedAt: Date?
    public var error: String?

    public var refusedTotal: Int64 { refused.values.reduce(0, +) }

    /// Seconds until every line is decided at the current rate; nil when unknown.
    public var etaSeconds: Double? {
        guard !state.isFinished else { return 0 }
        guard let rate = ratePerSecond, rate > 0 else { return nil }
        return Double(total - done) / rate
    }

    /// The job as the API shows it.
    public func write(into object: inout JSONObjectWriter) {
        object.field("id", id)
        object.field("campaign_id", campaignId)
        object.field("state", state.rawValue)
        object.field("total", total)
        object.field("done", done)
        object.field("granted", granted)
        object.field("refused_total", refusedTotal)
        object.objectField("refused") { counts in
            for (reason, count) in refused.sorted(by: { $0.key < $1.key }) { counts.field(reason, count) }
        }
        object.field("resumes", resumes)
        if let leaseOwner { object.field("node", leaseOwner) } else { object.nullField("node") }
        if let rate = ratePerSecond { object.field("rate_per_second", (rate * 10).rounded() / 10) } else { object.nullField("rate_per_second") }
        if let eta = etaSeconds { object.field("eta_seconds", (eta * 10).rounded() / 10) } else { object.nullField("eta_seconds") }
        object.field("created_at", RFC3339.format(epochMs: Int64(createdAt.timeIntervalSince1970 * 1000)))
        if let finishedAt {
            object.field("finished_at", RFC3339.format(epochMs: Int64(finishedAt.timeIntervalSince1970 * 1000)))
        } else {
            object.nullField("finished_at")
        }
        if let error { object.field("error", error) } else { object.nullField("error") }
    }

    /// `refused` as the JSON text stored in `bulk_jobs.refused`.
    static func refusedJSON(_ refused: [String: Int64]) -> String {
        var writer = JSONWriter()
        writer.writeObject { object in
            for (reason, count) in refused.sorted(by: { $0.key < $1.key }) { object.field(reason, count) }
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func parseRefused(_ text: String) -> [String: Int64] {
        guard let value = try? JSONParser.parse(Array(text.utf8)), case .object(let object) = value else { return [:] }
        var counts: [String: Int64] = [:]
        for (key, value) in object.members { counts[key] = value.int64Value }
        return counts
    }
}
