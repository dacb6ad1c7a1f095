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
        // Fields read in turn as slices of the record (no array of parts).
        var rest: Substring? = record[...]
        func next() -> Substring? {
            guard let current = rest else { return nil }
            guard let bar = current.utf8.firstIndex(of: UInt8(ascii: "|")) else {
                rest = nil
                return current
            }
            rest = current[current.index(after: bar)...]
            return current[..<bar]
        }
        guard let code = next(), let at = next().flatMap({ Int64($0) }), let from = next().flatMap({ Int64($0) }),
            let until = next().flatMap({ Int64($0) }), let streamId = next()
        else { return nil }
        let storedRequestId = next()
        guard rest == nil else { return nil }  // more than 6 fields
        self.init(
            code: String(code), campaignId: campaignId, userId: userId,
            requestId: storedRequestId.map(String.init) ?? requestId,
            issuedAtMs: at, validFromMs: from, validUntilMs: until, streamId: String(streamId))
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
    public init?(reply: RESPValue, campaignId: Int64, userId: String, requestId: String) {
        guard let items = reply.array, let head = items.first?.string else { return nil }
        switch head {
        case "granted", "replayed":
            guard items.count == 2, let record = items[1].string,
                let grant = Grant(record: record, campaignId: campaignId, userId: userId, requestId: requestId)
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
