/// PostgreSQL array literals for text-format binds (`$1::text[]`), so a batch travels as
/// one parameter instead of being formatted into SQL.
public enum PostgresArrayLiteral {
    public static func text(_ values: [String]) -> String {
        var out = "{"
        out.reserveCapacity(values.count * 24)
        for (index, value) in values.enumerated() {
            if index > 0 { out += "," }
            out += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { out += "\\" }
                out.unicodeScalars.append(character)
            }
            out += "\""
        }
        return out + "}"
    }

    public static func integers(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}
