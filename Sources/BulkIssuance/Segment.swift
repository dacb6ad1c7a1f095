import CouponCore
import Foundation

/// A segment (人群): a named set of user ids, uploaded or computed by a rule from coupond's
/// own PostgreSQL data (coupons flushed there; grants still only in Redis are not seen).
public struct Segment: Sendable, Equatable {
    public enum Kind: String, Sendable { case uploaded, rule }

    public let id: Int64
    public let name: String
    public let kind: Kind
    public let rule: SegmentRule?
    public let size: Int64
    public let version: Int64
    public let refreshedAtMs: Int64

    public func write(into object: inout JSONObjectWriter) {
        object.field("id", id)
        object.field("name", name)
        object.field("kind", kind.rawValue)
        if let rule { object.field("rule", rule.json) } else { object.nullField("rule") }
        object.field("size", size)
        object.field("version", version)
        object.field("refreshed_at", RFC3339.format(epochMs: refreshedAtMs))
    }
}

/// The rules a segment can be computed from.
public enum SegmentRule: Sendable, Equatable {
    /// Members who redeemed before and not since `sinceMs` (the dormant members, 沉睡会员);
    /// optionally only redemptions of campaigns of one template (a business line).
    case dormant(sinceMs: Int64, templateId: Int64?)
    /// Members who claimed campaign `campaignId` and never redeemed any coupon of it.
    case claimedNotRedeemed(campaignId: Int64)
    /// Members who redeemed at least `count` coupons.
    case redeemedAtLeast(count: Int64)

    public struct Invalid: Error, Equatable { public let message: String }

    public init(json: JSONValue) throws(Invalid) {
        guard case .object = json, let type = json["type"]?.stringValue else {
            throw Invalid(message: "rule must be an object with a type: dormant, claimed_not_redeemed or redeemed_at_least")
        }
        switch type {
        case "dormant":
            guard let text = json["since"]?.stringValue, let since = RFC3339.parse(text) else {
                throw Invalid(message: "rule.since must be an RFC 3339 time")
            }
            var template: Int64?
            if let value = json["template_id"], value != .null {
                guard let id = value.int64Value, id > 0 else { throw Invalid(message: "rule.template_id must be a positive integer") }
                template = id
            }
            self = .dormant(sinceMs: since, templateId: template)
        case "claimed_not_redeemed":
            guard let id = json["campaign_id"]?.int64Value, id > 0 else { throw Invalid(message: "rule.campaign_id must be a positive integer") }
            self = .claimedNotRedeemed(campaignId: id)
        case "redeemed_at_least":
            guard let count = json["count"]?.int64Value, count >= 1 else { throw Invalid(message: "rule.count must be an integer ≥ 1") }
            self = .redeemedAtLeast(count: count)
        default:
            throw Invalid(message: "rule.type must be dormant, claimed_not_redeemed or redeemed_at_least")
        }
    }

    public var json: JSONValue {
        switch self {
        case .dormant(let since, let template):
            var pairs: [(String, JSONValue)] = [("type", .string("dormant")), ("since", .string(RFC3339.format(epochMs: since)))]
            if let template { pairs.append(("template_id", .number(.integer(template)))) }
            return .object(JSONObject(pairs))
        case .claimedNotRedeemed(let campaign):
            return .object(JSONObject([("type", .string("claimed_not_redeemed")), ("campaign_id", .number(.integer(campaign)))]))
        case .redeemedAtLeast(let count):
            return .object(JSONObject([("type", .string("redeemed_at_least")), ("count", .number(.integer(count)))]))
        }
    }

    /// `SELECT user_id …` of the members, with its binds starting at `$2` (`$1` is the segment id).
    var membersQuery: (sql: String, binds: [Int64]) {
        switch self {
        case .dormant(let since, nil):
            return (
                "SELECT user_id FROM coupons WHERE redeemed_at IS NOT NULL GROUP BY user_id "
                    + "HAVING max(redeemed_at) < timestamptz 'epoch' + $2 * interval '1 millisecond'", [since]
            )
        case .dormant(let since, let template?):
            return (
                "SELECT user_id FROM coupons WHERE redeemed_at IS NOT NULL AND campaign_id IN (SELECT id FROM campaigns WHERE template_id = $3) "
                    + "GROUP BY user_id HAVING max(redeemed_at) < timestamptz 'epoch' + $2 * interval '1 millisecond'", [since, template]
            )
        case .claimedNotRedeemed(let campaign):
            return ("SELECT user_id FROM coupons WHERE campaign_id = $2 GROUP BY user_id HAVING count(redeemed_at) = 0", [campaign])
        case .redeemedAtLeast(let count):
            return ("SELECT user_id FROM coupons WHERE redeemed_at IS NOT NULL GROUP BY user_id HAVING count(*) >= $2", [count])
        }
    }
}
