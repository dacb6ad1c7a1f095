import Issuance
import RedisClient

/// One entry of a campaign's grant stream, as the flusher reads it.
public struct GrantEntry: Sendable, Equatable {
    public let stream: String
    public let streamId: String
    /// Nil when the entry was deleted from the stream while pending (nothing to write; ack it).
    public let grant: Grant?

    /// Parses an XREADGROUP / XAUTOCLAIM reply's entry list `[[id, [field, value, ...]], ...]`.
    static func parse(entries: [RESPValue], stream: String, campaignId: Int64) -> [GrantEntry] {
        entries.compactMap { entry in
            guard let pair = entry.array, pair.count == 2, let id = pair[0].string else { return nil }
            guard let fields = pair[1].array else { return GrantEntry(stream: stream, streamId: id, grant: nil) }
            guard let grant = GrantStreamEntry.grant(id: id, fields: fields, campaignId: campaignId)
            else { return GrantEntry(stream: stream, streamId: id, grant: nil) }
            return GrantEntry(stream: stream, streamId: id, grant: grant)
        }
    }

    /// Parses an XREADGROUP reply `[[stream, entries], ...]` (nil reply = nothing new).
    static func parse(readReply reply: RESPValue) -> [GrantEntry] {
        guard let streams = reply.array else { return [] }
        var result: [GrantEntry] = []
        for item in streams {
            guard let pair = item.array, pair.count == 2, let stream = pair[0].string,
                let campaignId = CampaignKeys.campaignId(ofGrantStream: stream), let entries = pair[1].array
            else { continue }
            result += parse(entries: entries, stream: stream, campaignId: campaignId)
        }
        return result
    }
}

/// Stream ids `ms-seq`, ordered as Redis orders them.
struct StreamID: Comparable, CustomStringConvertible {
    let ms: UInt64
    let seq: UInt64

    init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        self.ms = ms
        self.seq = seq
    }

    init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    /// The smallest id greater than this one.
    var successor: StreamID { seq == .max ? StreamID(ms: ms + 1, seq: 0) : StreamID(ms: ms, seq: seq + 1) }

    var description: String { "\(ms)-\(seq)" }

    static func < (a: StreamID, b: StreamID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }
}
