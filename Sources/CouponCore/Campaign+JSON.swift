/// The campaign's wire format (JSON, snake_case) as the admin API receives and returns it:
/// `{"template_id", "name", "stock", "per_user_limit", "claim_start", "claim_end",
///   "validity"?, "eligibility": {"required_tags": [...]}?, "shards"?}`, plus the period caps
/// `"time_zone", "user_daily_limit", "user_weekly_limit", "daily_stock", "daily_release_at"` (issue 12). Without `validity` the
/// template's rule applies; without `shards`, 1.
extension Campaign {
    static let fields = Set([
        "template_id", "name", "stock", "per_user_limit", "claim_start", "claim_end", "validity", "eligibility", "shards",
    ]).union(PeriodCaps.fields)

    /// Decodes a new campaign (id 0 until stored) and validates it.
    public init(json: JSONValue, templateValidity: (Int64) -> ValidityRule?) throws(ValidationError) {
        let fields = try JSONFields(json, path: "")
        try fields.rejectUnknown(Self.fields)
        let templateId = try fields.requiredInt64("template_id")
        let name = try fields.requiredString("name")
        let stock = try fields.requiredInt64("stock")
        let limit = try fields.requiredInt64("per_user_limit")
        guard let start = RFC3339.parse(try fields.requiredString("claim_start")) else {
            throw fields.error("claim_start", "must be an RFC 3339 timestamp such as 2026-11-23T20:00:00Z")
        }
        guard let end = RFC3339.parse(try fields.requiredString("claim_end")) else {
            throw fields.error("claim_end", "must be an RFC 3339 timestamp such as 2026-11-23T21:00:00Z")
        }
        var tags: [String] = []
        if let eligibility = fields.value("eligibility") {
            let nested = try JSONFields(eligibility, path: "eligibility")
            try nested.rejectUnknown(["required_tags"])
            tags = try nested.stringArray("required_tags") ?? []
        }
        let validity: ValidityRule
        if let rule = fields.value("validity") {
            validity = try CouponTemplate.decodeValidity(JSONFields(rule, path: "validity"))
        } else if let inherited = templateValidity(templateId) {
            validity = inherited
        } else {
            throw fields.error("template_id", "no template with id \(templateId)")
        }
        guard (Int64(Int.min)...Int64(Int.max)).contains(limit) else { throw fields.error("per_user_limit", "is out of range") }
        let caps = try PeriodCaps.decode(fields)
        var shards: Int64 = 1
        if fields.value("shards") != nil {
            shards = try fields.requiredInt64("shards")
            guard Self.shardRange.contains(Int(clamping: shards)) else {
                throw fields.error("shards", "must be between \(Self.shardRange.lowerBound) and \(Self.shardRange.upperBound)")
            }
        }
        self.init(
            id: 0, templateId: templateId, name: name, stockTotal: stock, perUserLimit: Int(limit), claimStartMs: start,
            claimEndMs: end, validity: validity, eligibility: Eligibility(requiredTags: tags), periodCaps: caps,
            shards: Int(shards))
        if let first = validationErrors().first { throw first }
    }

    /// The wire form, plus `id` and `state`.
    public var json: JSONValue {
        var object = JSONObject()
        object["id"] = .int(id)
        object["template_id"] = .int(templateId)
        object["name"] = .string(name)
        object["state"] = .string(state.rawValue)
        object["stock"] = .int(stockTotal)
        object["per_user_limit"] = .int(Int64(perUserLimit))
        object["claim_start"] = .string(RFC3339.format(epochMs: claimStartMs))
        object["claim_end"] = .string(RFC3339.format(epochMs: claimEndMs))
        switch validity {
        case .fixed(let fromMs, let untilMs):
            object["validity"] = [
                "type": "fixed", "from": .string(RFC3339.format(epochMs: fromMs)), "until": .string(RFC3339.format(epochMs: untilMs)),
            ]
        case .relative(let days):
            object["validity"] = ["type": "relative", "days": .int(Int64(days))]
        }
        object["eligibility"] = ["required_tags": .array(eligibility.requiredTags.map(JSONValue.string))]
        periodCaps?.encode(into: &object)
        object["shards"] = .int(Int64(shards))
        return .object(object)
    }
}
