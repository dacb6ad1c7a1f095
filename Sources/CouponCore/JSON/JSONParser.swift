/// A strict RFC 8259 JSON parser over bytes, built for request bodies on the hot path.
///
/// Strict means: UTF-8 is validated; only the six JSON literals/structures are accepted;
/// no trailing commas, no leading zeros, no comments, no BOM, no NaN/Infinity; `\uXXXX`
/// escapes must pair surrogates correctly (a lone surrogate is rejected). **Duplicate keys
/// in one object are rejected** (`JSONError.Reason.duplicateKey`), so a body can never mean
/// two things to two readers. Nesting deeper than `Limits.maxDepth` and input longer than
/// `Limits.maxBytes` are rejected before they can exhaust the stack or memory.
public enum JSONParser {
    /// Guards against hostile input.
    public struct Limits: Sendable, Equatable {
        /// Deepest nesting of arrays/objects accepted (the top-level container is depth 1).
        public var maxDepth: Int
        /// Largest input accepted, in bytes.
        public var maxBytes: Int

        public init(maxDepth: Int = 64, maxBytes: Int = 1 << 20) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
        }

        public static let `default` = Limits()
    }

    public static func parse(_ bytes: [UInt8], limits: Limits = .default) throws(JSONError) -> JSONValue {
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(JSONError) { return .success(try parse(buffer, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, limits: Limits = .default) throws(JSONError) -> JSONValue {
        try parse(buffer.assumingMemoryBound(to: UInt8.self), limits: limits)
    }

    public static func parse(_ text: String, limits: Limits = .default) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, limits: Limits = .default) throws(JSONError) -> JSONValue {
        if buffer.count > limits.maxBytes { throw JSONError(.tooLarge, at: limits.maxBytes) }
        var reader = JSONReader(bytes: buffer, maxDepth: limits.maxDepth)
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.position < buffer.count { throw JSONError(.trailingData, at: reader.position) }
        return value
    }
}

/// The parser's cursor over one input buffer. Every read checks `position < bytes.count`
/// itself, so release builds (which drop UnsafeBufferPointer's bounds checks) stay safe.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0
    /// Reused across strings that contain escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    var atEnd: Bool { position >= bytes.count }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case ASCII.space, ASCII.tab, ASCII.newline, ASCII.carriageReturn: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
        switch bytes[position] {
        case ASCII.openBrace: return try parseObject(depth: depth + 1)
        case ASCII.openBracket: return try parseArray(depth: depth + 1)
        case ASCII.quote: return .string(try parseString())
        case ASCII.t: try expectLiteral("true"); return .bool(true)
        case ASCII.f: try expectLiteral("false"); return .bool(false)
        case ASCII.n: try expectLiteral("null"); return .null
        case ASCII.minus, ASCII.zero...ASCII.nine: return .number(try parseNumber())
        default: throw JSONError(.unexpectedCharacter, at: position)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let start = position
        let length = literal.utf8CodeUnitCount
        let text = literal.utf8Start
        for offset in 0..<length {
            guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
            guard bytes[position] == text[offset] else { throw JSONError(.invalidLiteral, at: start) }
            position += 1
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw JSONError(.tooDeep, at: position) }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == ASCII.closeBracket {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            if try closesAfterMember(ASCII.closeBracket) { return .array(elements) }
        }
    }

    /// After an array element or object member: consumes `,` (rejecting a trailing one) and
    /// returns false, or consumes `close` and returns true.
    private mutating func closesAfterMember(_ close: UInt8) throws(JSONError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
        switch bytes[position] {
        case ASCII.comma:
            let comma = position
            position += 1
            skipWhitespace()
            if position < bytes.count, bytes[position] == close { throw JSONError(.trailingComma, at: comma) }
            return false
        case close:
            position += 1
            return true
        default:
            throw JSONError(.expectedCommaOrEnd, at: position)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw JSONError(.tooDeep, at: position) }
        position += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if position < bytes.count, bytes[position] == ASCII.closeBrace {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
            guard bytes[position] == ASCII.quote else { throw JSONError(.expectedKey, at: position) }
            let keyStart = position
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
            guard bytes[position] == ASCII.colon else { throw JSONError(.expectedColon, at: position) }
            position += 1
            let value = try parseValue(depth: depth)
            guard object.insertNew(key, value) else { throw JSONError(.duplicateKey, at: keyStart) }
            if try closesAfterMember(ASCII.closeBrace) { return .object(object) }
        }
    }
}

/// Byte constants the parser and writer compare against.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let upperE: UInt8 = 0x45
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let b: UInt8 = 0x62
    static let e: UInt8 = 0x65
    static let f: UInt8 = 0x66
    static let n: UInt8 = 0x6E
    static let r: UInt8 = 0x72
    static let t: UInt8 = 0x74
    static let u: UInt8 = 0x75
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
}
