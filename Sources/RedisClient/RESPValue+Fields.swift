extension RESPValue {
    /// A flat `[name, value, name, value, …]` reply — a stream entry's fields, `HGETALL`,
    /// `XINFO` — as a dictionary; pairs whose name or value is not a string are skipped.
    /// The one decoder of such lists, so every stream and hash reader agrees on them.
    public static func fieldMap(_ list: [RESPValue]) -> [String: String] {
        var fields: [String: String] = [:]
        fields.reserveCapacity(list.count / 2)
        var index = 0
        while index + 1 < list.count {
            if let name = list[index].string, let value = list[index + 1].string { fields[name] = value }
            index += 2
        }
        return fields
    }
}
