/// The template's wire format (JSON, snake_case) as the admin API receives and returns it.
extension CouponTemplate {
    static let fields: Set<String> = [
        "id", "name", "currency", "kind", "threshold", "amount", "percent", "cap", "sku", "gift_value", "scope", "validity",
    ]

    /// Decodes and validates a template. Throws the first problem found, checking fields in
    /// wire order: unknown fields, then `id`, `name`, `currency`, `kind` and its amounts,
    /// `scope`, `validity`. Fields a kind does not use are rejected, not ignored.
    public init(json: JSONValue) throws(ValidationError) {
        let fields = try JSONFields(json, path: "")
        try fields.rejectUnknown(Self.fields)
        let id = try fields.int64("id")
        let name = try fields.requiredString("name")
        let currency = try fields.requiredString("currency")
        let kind = try Self.decodeKind(fields)
        let scope = try fields.has("scope") ? Self.decodeScope(JSONFields(fields.object["scope"]!, path: "scope")) : .everywhere
        guard let validityJSON = fields.value("validity") else { throw fields.error("validity", "is required") }
        let validity = try Self.decodeValidity(JSONFields(validityJSON, path: "validity"))
        self.init(id: id, name: name, currency: currency, kind: kind, scope: scope, validity: validity)
        if let first = validationErrors().first { throw first }
    }

    /// Parses bytes and decodes; malformed JSON becomes a `body` validation error.
    public init(jsonBytes: [UInt8]) throws(ValidationError) {
        let json: JSONValue
        do throws(JSONError) {
            json = try JSONParser.parse(jsonBytes)
        } catch {
            throw ValidationError(field: "body", message: error.message)
        }
        try self.init(json: json)
    }

    private static func decodeKind(_ fields: JSONFields) throws(ValidationError) -> CouponKind {
        let kindName = try fields.requiredString("kind")
        let notAllowed = "not allowed for kind \(kindName)"
        switch kindName {
        case "amount_off":
            try fields.rejectPresent(["percent", "cap", "sku", "gift_value"], reason: notAllowed)
            return .amountOff(threshold: try fields.requiredInt64("threshold"), amount: try fields.requiredInt64("amount"))
        case "percent_off":
            try fields.rejectPresent(["amount", "sku", "gift_value"], reason: notAllowed)
            let percent = try fields.requiredInt64("percent")
            guard (1...100).contains(percent) else { throw fields.error("percent", "must be an integer from 1 to 100") }
            return .percentOff(threshold: try fields.int64("threshold") ?? 0, percent: Int(percent), cap: try fields.int64("cap"))
        case "free_shipping":
            try fields.rejectPresent(["amount", "percent", "cap", "sku", "gift_value"], reason: notAllowed)
            return .freeShipping(threshold: try fields.int64("threshold") ?? 0)
        case "gift":
            try fields.rejectPresent(["amount", "percent", "cap"], reason: notAllowed)
            return .gift(
                threshold: try fields.int64("threshold") ?? 0, sku: try fields.requiredString("sku"),
                giftValue: try fields.int64("gift_value") ?? 0)
        case "cash":
            try fields.rejectPresent(["threshold", "percent", "cap", "sku", "gift_value"], reason: notAllowed)
            return .cash(amount: try fields.requiredInt64("amount"))
        default:
            throw fields.error("kind", "must be one of " + CouponKind.wireNames.joined(separator: ", "))
        }
    }

    private static func decodeScope(_ fields: JSONFields) throws(ValidationError) -> CouponScope {
        try fields.rejectUnknown(["business_lines", "store_ids"])
        return CouponScope(
            businessLines: try fields.stringArray("business_lines") ?? [], storeIds: try fields.stringArray("store_ids") ?? [])
    }

    static func decodeValidity(_ fields: JSONFields) throws(ValidationError) -> ValidityRule {
        switch try fields.requiredString("type") {
        case "fixed":
            try fields.rejectUnknown(["type", "from", "until"])
            guard let from = RFC3339.parse(try fields.requiredString("from")) else {
                throw fields.error("from", "must be an RFC 3339 timestamp such as 2026-11-23T00:00:00Z")
            }
            guard let until = RFC3339.parse(try fields.requiredString("until")) else {
                throw fields.error("until", "must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z")
            }
            return .fixed(fromMs: from, untilMs: until)
        case "relative":
            try fields.rejectUnknown(["type", "days"])
            let days = try fields.requiredInt64("days")
            guard days >= 1 && days <= Int64(CouponCore.maxRelativeDays) else {
                throw fields.error("days", "must be an integer from 1 to \(CouponCore.maxRelativeDays)")
            }
            return .relative(days: Int(days))
        default:
            throw fields.error("type", "must be fixed or relative")
        }
    }

    /// The wire form; `decode(encode(t)) == t` for every valid template.
    public var json: JSONValue {
        var object = JSONObject()
        if let id { object["id"] = .int(id) }
        object["name"] = .string(name)
        object["currency"] = .string(currency)
        object["kind"] = .string(kind.wireName)
        switch kind {
        case .amountOff(let threshold, let amount):
            object["threshold"] = .int(threshold)
            object["amount"] = .int(amount)
        case .percentOff(let threshold, let percent, let cap):
            object["threshold"] = .int(threshold)
            object["percent"] = .int(Int64(percent))
            if let cap { object["cap"] = .int(cap) }
        case .freeShipping(let threshold):
            object["threshold"] = .int(threshold)
        case .gift(let threshold, let sku, let giftValue):
            object["threshold"] = .int(threshold)
            object["sku"] = .string(sku)
            object["gift_value"] = .int(giftValue)
        case .cash(let amount):
            object["amount"] = .int(amount)
        }
        object["scope"] = [
            "business_lines": .array(scope.businessLines.map(JSONValue.string)),
            "store_ids": .array(scope.storeIds.map(JSONValue.string)),
        ]
        switch validity {
        case .fixed(let fromMs, let untilMs):
            object["validity"] = [
                "type": "fixed", "from": .string(RFC3339.format(epochMs: fromMs)),
                "until": .string(RFC3339.format(epochMs: untilMs)),
            ]
        case .relative(let days):
            object["validity"] = ["type": "relative", "days": .int(Int64(days))]
        }
        return .object(object)
    }
}
