/// Percent-decoding for query strings and path segments.
enum PercentDecoding {
    /// Splits `/a/b?x=1` into ("/a/b", "x=1"); the query is nil when there is no `?`.
    static func splitTarget(_ target: String) -> (path: String, query: Substring?) {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target, nil) }
        let path = String(target[..<mark])
        let query = target[target.index(after: mark)...]
        return (path, query)
    }

    /// `a=1&b=x%20y&c` → ["a": "1", "b": "x y", "c": ""]; `+` decodes to a space. A name given
    /// twice is reported in `repeated` (the first such name): callers refuse the request rather
    /// than guess which value was meant.
    static func parseQuery(_ query: Substring) -> (parameters: [String: String], repeated: String?) {
        var result: [String: String] = [:]
        var repeated: String?
        for pair in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let key: String, value: String
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                key = decode(pair[pair.startIndex..<equals], plusIsSpace: true)
                value = decode(pair[pair.index(after: equals)...], plusIsSpace: true)
            } else {
                key = decode(pair, plusIsSpace: true)
                value = ""
            }
            if result.updateValue(value, forKey: key) != nil, repeated == nil { repeated = key }
        }
        return (result, repeated)
    }

    /// Decodes `%XX` escapes; a malformed escape is kept literally. Invalid UTF-8 is replaced.
    static func decode<C: Collection>(_ bytes: C, plusIsSpace: Bool) -> String where C.Element == UInt8 {
        if !bytes.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                if first != bytes.endIndex {
                    let second = bytes.index(after: first)
                    if second != bytes.endIndex, let high = hexValue(bytes[first]), let low = hexValue(bytes[second]) {
                        out.append(high << 4 | low)
                        index = bytes.index(after: second)
                        continue
                    }
                }
                out.append(byte)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
            index = bytes.index(after: index)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
