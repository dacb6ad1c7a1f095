import CouponCore
import RedisClient

/// One granted coupon, as the claim script recorded it.
public struct Grant: Sendable, Equatable {
    public let code: String
    public let campaignId: Int64
    public let userId: String
    public let requestId: String
    public let issuedAtMs: Int64
    public let validFromMs: Int64
    public let validUntilMs: Int64
    /// The id of the grant's entry in the campaign's stream.
    public let streamId: String
    /// The channel the claim named (issue 12), as the stream entry carries it; nil when none
    /// or when the grant was read from a claim reply (replies do not repeat it).
    public var channel: String? = nil

    public init(
        code: String, campaignId: Int64, userId: String, requestId: String, issuedAtMs: Int64,
        validFromMs: Int64, validUntilMs: Int64, streamId: String
    ) {
        self.code = code
        self.campaignId = campaignId
        self.userId = userId
        self.requestId = requestId
        self.issuedAtMs = issuedAtMs
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
        self.streamId = streamId
    }

    /// Parses the script's compact grant record `code|at|valid_from|valid_until|stream_id`;
    /// the user index (`GrantHints`) adds `|request_id`, which wins over `requestId`.
    public init?(record: String, campaignId: Int64, userId: String, requestId: String) {
        var record = record
        guard let grant = record.withUTF8({ Grant(record: $0, campaignId: campaignId, userId: userId, requestId: requestId) }) else { return nil }
        self = grant
    }

    /// The same, from the record's bytes. `sentCode`: the code the claim offered; when the record
    /// holds it (a new grant), the grant shares that `String` instead of making another.
    init?(record: UnsafeBufferPointer<UInt8>, campaignId: Int64, userId: String, requestId: String, sentCode: String? = nil) {
        // Fields read in turn as slices of the record (no array of parts, no copy of the record).
        var rest: Slice<UnsafeBufferPointer<UInt8>>? = record[...]
        func next() -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard let current = rest else { return nil }
            guard let bar = current.firstIndex(of: UInt8(ascii: "|")) else {
                rest = nil
                return current
            }
            rest = current[(bar + 1)...]
            return current[..<bar]
        }
        guard let code = next(), let at = next().flatMap(Self.integer), let from = next().flatMap(Self.integer),
            let until = next().flatMap(Self.integer), let streamId = next()
        else { return nil }
        let storedRequestId = next()
        guard rest == nil else { return nil }  // more than 6 fields
        let codeText: String
        if let sentCode, sentCode.utf8.elementsEqual(code) {
            codeText = sentCode
        } else {
            codeText = String(decoding: code, as: UTF8.self)
        }
        self.init(
            code: codeText, campaignId: campaignId, userId: userId,
            requestId: storedRequestId.map { String(decoding: $0, as: UTF8.self) } ?? requestId,
            issuedAtMs: at, validFromMs: from, validUntilMs: until, streamId: String(decoding: streamId, as: UTF8.self))
    }

    /// A decimal `Int64` as `Int64(_:)` of its text reads it (optional sign, then digits only).
    static func integer(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Int64? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow, !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}

/// What the claim script decided, mapped from its reply.
public enum ClaimDecision: Sendable, Equatable {
    case granted(Grant)
    /// The request id was seen before: the stored grant, never a second one.
    case replayed(Grant)
    case refused(ClaimRefusal)
    case unknownCampaign
    /// The request id was used before by another user.
    case requestConflict

    /// The grant a `granted` or `replayed` decision answers with.
    public var grant: Grant? {
        switch self {
        case .granted(let grant), .replayed(let grant): grant
        default: nil
        }
    }

    public var outcome: String {
        switch self {
        case .granted: "granted"
        case .replayed: "replayed"
        case .refused(let refusal): refusal.rawValue
        case .unknownCampaign: "unknown_campaign"
        case .requestConflict: "request_conflict"
        }
    }

    /// Maps the script's reply; nil when the reply is not one the script can produce.
    /// `sentCode`: the code the claim offered (a new grant's record holds it; see `Grant`).
    public init?(reply: RESPValue, campaignId: Int64, userId: String, requestId: String, sentCode: String? = nil) {
        self.init(reply: RESPReplyView(reply), campaignId: campaignId, userId: userId, requestId: requestId, sentCode: sentCode)
    }

    /// The same, reading the reply in place.
    public init?(reply: RESPReplyView, campaignId: Int64, userId: String, requestId: String, sentCode: String? = nil) {
        guard let count = reply.count, count >= 1, let head = reply[0].string else { return nil }
        switch head {
        case "granted", "replayed":
            guard count == 2,
                let grant = reply[1].withStringBytes({ record in
                    record.flatMap { Grant(record: $0, campaignId: campaignId, userId: userId, requestId: requestId, sentCode: sentCode) }
                })
            else { return nil }
            self = head == "granted" ? .granted(grant) : .replayed(grant)
        case "unknown_campaign": self = .unknownCampaign
        case "request_conflict": self = .requestConflict
        default:
            guard let refusal = ClaimRefusal(rawValue: head) else { return nil }
            self = .refused(refusal)
        }
    }
}
