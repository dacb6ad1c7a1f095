import RedisClient

/// The codec of one grant-stream entry (`cp:{c:ID}:grants`): the claim scripts write it
/// (`luaFields`), the flusher, finance and redemption read it (`grant(id:fields:)`). Field
/// names live here only.
public enum GrantStreamEntry {
    public static let code = "code"
    public static let user = "user"
    public static let request = "req"
    /// Grant time, ms since the epoch (Redis `TIME`).
    public static let issuedAt = "at"
    public static let validFrom = "vf"
    public static let validUntil = "vu"
    /// The channel the claim named (issue 12); absent when it named none.
    public static let channel = "ch"

    /// Lua expression list for `XADD key '*' <fields>`, over Lua variables of these names.
    static func luaFields(code: String, user: String, request: String, at: String, validFrom vf: String, validUntil vu: String) -> String {
        "'\(Self.code)', \(code), '\(Self.user)', \(user), '\(Self.request)', \(request), '\(issuedAt)', \(at), '\(validFrom)', \(vf), '\(validUntil)', \(vu)"
    }

    /// Decodes an entry's field list `[field, value, ...]`; nil when a field is missing or malformed.
    public static func grant(id: String, fields: [RESPValue], campaignId: Int64) -> Grant? {
        let values = RESPValue.fieldMap(fields)
        guard let code = values[code], let user = values[user], let request = values[request],
            let at = values[issuedAt].flatMap(Int64.init), let from = values[validFrom].flatMap(Int64.init),
            let until = values[validUntil].flatMap(Int64.init)
        else { return nil }
        var grant = Grant(
            code: code, campaignId: campaignId, userId: user, requestId: request, issuedAtMs: at,
            validFromMs: from, validUntilMs: until, streamId: id)
        grant.channel = values[channel]
        return grant
    }
}
