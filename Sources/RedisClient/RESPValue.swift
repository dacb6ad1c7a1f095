/// A Redis reply copied into Swift memory, so it outlives the hiredis reply object it came from.
/// RESP2 only (hiredis 0.14): a status reply is `simpleString`, a nil bulk or nil array is `null`.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case bulkString([UInt8])
    case integer(Int64)
    case array([RESPValue])
    case null
    case error(RedisServerError)

    /// The text of a simple or bulk string (bulk bytes decoded as UTF-8); nil otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The bytes of a simple or bulk string; nil otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .simpleString(let text): return Array(text.utf8)
        case .bulkString(let bytes): return bytes
        default: return nil
        }
    }

    /// An integer reply, or a string reply holding a decimal integer (what `GET` of a counter returns).
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .simpleString, .bulkString: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; nil otherwise (a nil array is `.null`).
    public var array: [RESPValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool { self == .null }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .bulkString(let bytes): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .integer(let value): return ":\(value)"
        case .array(let elements): return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .null: return "(nil)"
        case .error(let error): return "-\(error.message)"
        }
    }
}
