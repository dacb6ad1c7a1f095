import CouponCore
import RedisClient

/// One prize tier of a draw.
public struct DrawTier: Sendable, Equatable {
    public let name: String
    /// The template of the prize's coupon (recorded; issuing prize coupons is not built yet).
    public let templateId: Int64?
    public let stock: Int64
    public let weight: Int64

    public init(name: String, templateId: Int64?, stock: Int64, weight: Int64) {
        self.name = name
        self.templateId = templateId
        self.stock = stock
        self.weight = weight
    }
}

/// A draw's prize table and the rule that turns a recorded random value into an outcome
/// (issue 11, provable fairness). Tiers are numbered from 1 in table order; 0 is no prize.
///
/// Rule: `pick = random mod W` where W = Σ tier weights + the no-prize weight and `random` is a
/// 53-bit value from the node's CSPRNG; the tier is the first whose cumulative weight exceeds
/// `pick`, else no prize. A tier with no stock left gives its weight to no prize: the attempt
/// selects it as usual and is recorded as `selected_tier = i, outcome_tier = 0`. The modulo bias
/// is below W / 2^53. The table's version hash is SHA-1 of `canonical`; anyone holding the table,
/// an attempt's random value and hash can recompute its selected tier.
public struct DrawTable: Sendable, Equatable {
    public static let randomBits = 53
    public static let maxTiers = 20
    public static let maxWeight: Int64 = 1_000_000

    public let tiers: [DrawTier]
    public let noPrizeWeight: Int64

    public init(tiers: [DrawTier], noPrizeWeight: Int64) {
        self.tiers = tiers
        self.noPrizeWeight = noPrizeWeight
    }

    public var totalWeight: Int64 { tiers.reduce(noPrizeWeight) { $0 + $1.weight } }

    /// The text the version hash is computed over.
    public var canonical: String {
        "draw-table v1\nno_prize \(noPrizeWeight)\n" + tiers.map { "tier \($0.name) \($0.templateId.map(String.init) ?? "-") \($0.stock) \($0.weight)\n" }.joined()
    }

    public var versionHash: String { SHA1.hexDigest(Array(canonical.utf8)) }

    /// The tier (1-based) `random` selects, or 0 for no prize.
    public func select(random: Int64) -> Int {
        let pick = random % totalWeight
        var cumulative: Int64 = 0
        for (index, tier) in tiers.enumerated() {
            cumulative += tier.weight
            if pick < cumulative { return index + 1 }
        }
        return 0
    }

    /// A fresh random value for an attempt.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> Int64 {
        Int64(generator.next() >> UInt64(64 - randomBits))
    }

    /// Parses `{"no_prize_weight", "tiers": [{"name", "template_id"?, "stock", "weight"}]}` fields.
    public init(json: JSONValue) throws(DrawTableError) {
        guard let items = json["tiers"]?.arrayValue, (1...Self.maxTiers).contains(items.count) else {
            throw DrawTableError("tiers must be an array of 1 to \(Self.maxTiers) tiers")
        }
        var tiers: [DrawTier] = []
        for item in items {
            guard let name = item["name"]?.stringValue, Identifier.isValid(name) else { throw DrawTableError("each tier needs a name (an identifier)") }
            guard let stock = item["stock"]?.int64Value, (0...100_000_000).contains(stock) else {
                throw DrawTableError("tier \(name): stock must be an integer from 0 to 100000000")
            }
            guard let weight = item["weight"]?.int64Value, (1...Self.maxWeight).contains(weight) else {
                throw DrawTableError("tier \(name): weight must be an integer from 1 to \(Self.maxWeight)")
            }
            var template: Int64?
            if let value = item["template_id"], !value.isNull {
                guard let id = value.int64Value, id > 0 else { throw DrawTableError("tier \(name): template_id must be a positive integer") }
                template = id
            }
            tiers.append(DrawTier(name: name, templateId: template, stock: stock, weight: weight))
        }
        guard Set(tiers.map(\.name)).count == tiers.count else { throw DrawTableError("tier names must be distinct") }
        guard let noPrize = json["no_prize_weight"]?.int64Value, (0...Self.maxWeight).contains(noPrize) else {
            throw DrawTableError("no_prize_weight must be an integer from 0 to \(Self.maxWeight)")
        }
        self.init(tiers: tiers, noPrizeWeight: noPrize)
    }

    public var json: JSONValue {
        .object(JSONObject([
            ("no_prize_weight", .int(noPrizeWeight)),
            ("tiers", .array(tiers.map { tier in
                .object(JSONObject([
                    ("name", .string(tier.name)), ("template_id", tier.templateId.map(JSONValue.int) ?? .null),
                    ("stock", .int(tier.stock)), ("weight", .int(tier.weight)),
                ]))
            })),
        ]))
    }
}

public struct DrawTableError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
