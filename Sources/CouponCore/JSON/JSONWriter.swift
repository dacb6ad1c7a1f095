/// Appends JSON text to a byte buffer, for responses built by hand on the hot path.
///
/// Direct writers (`writeString`, `writeInt`, ...) emit one value each; `writeObject` and
/// `writeArray` hand a member writer to a closure and place the commas. Strings are escaped
/// per RFC 8259: `"` `\` and control characters (U+0000...U+001F) are escaped, everything
/// else, including non-ASCII, passes through as UTF-8. The writer does not check that the
/// calls form one well-formed document; the structured helpers make that the easy path.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func writeNull() { appendASCII("null") }

    public mutating func writeBool(_ value: Bool) { appendASCII(value ? "true" : "false") }

    public mutating func writeInt(_ value: Int) { writeInt(Int64(value)) }

    public mutating func writeInt(_ value: Int64) {
        var magnitude = value.magnitude
        if value < 0 { bytes.append(ASCII.minus) }
        // 20 digits hold UInt64.max; fill from the right, then append the used tail.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var index = 20
            repeat {
                index -= 1
                digits[index] = ASCII.zero &+ UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index..<20]))
        }
    }

    /// Shortest round-tripping form; non-finite values have no JSON form and write `null`.
    public mutating func writeDouble(_ value: Double) {
        if value.isFinite { bytes.append(contentsOf: value.description.utf8) } else { writeNull() }
    }

    public mutating func writeNumber(_ value: JSONNumber) {
        switch value {
        case .integer(let integer): writeInt(integer)
        case .double(let double): writeDouble(double)
        }
    }

    public mutating func writeString(_ value: String) {
        bytes.append(ASCII.quote)
        var utf8 = value.utf8
        let handled: Void? = utf8.withContiguousStorageIfAvailable { appendEscaped($0) }
        if handled == nil {
            utf8 = value.utf8
            appendEscaped(Array(utf8))
        }
        bytes.append(ASCII.quote)
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeNull()
        case .bool(let bool): writeBool(bool)
        case .number(let number): writeNumber(number)
        case .string(let string): writeString(string)
        case .array(let elements):
            bytes.append(ASCII.openBracket)
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(ASCII.comma) }
                write(element)
            }
            bytes.append(ASCII.closeBracket)
        case .object(let object):
            bytes.append(ASCII.openBrace)
            for index in 0..<object.count {
                if index > 0 { bytes.append(ASCII.comma) }
                writeString(object.keys[index])
                bytes.append(ASCII.colon)
                write(object.values[index])
            }
            bytes.append(ASCII.closeBrace)
        }
    }

    /// Writes `{...}`; the closure adds members through `JSONObjectWriter`.
    /// Encodes one object and returns its bytes.
    public static func object(_ body: (inout JSONObjectWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter()
        writer.writeObject(body)
        return writer.bytes
    }

    public mutating func writeObject(_ body: (inout JSONObjectWriter) -> Void) {
        var members = JSONObjectWriter(writer: takeWriter())
        members.writer.bytes.append(ASCII.openBrace)
        body(&members)
        members.writer.bytes.append(ASCII.closeBrace)
        bytes = members.writer.bytes
    }

    /// Writes `[...]`; the closure adds elements through `JSONArrayWriter`.
    public mutating func writeArray(_ body: (inout JSONArrayWriter) -> Void) {
        var elements = JSONArrayWriter(writer: takeWriter())
        elements.writer.bytes.append(ASCII.openBracket)
        body(&elements)
        elements.writer.bytes.append(ASCII.closeBracket)
        bytes = elements.writer.bytes
    }

    /// Moves the buffer out (leaving self empty) so nested writers append without a copy.
    private mutating func takeWriter() -> JSONWriter {
        var moved = JSONWriter(capacity: 0)
        swap(&moved.bytes, &bytes)
        return moved
    }

    private mutating func appendASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == ASCII.quote || byte == ASCII.backslash else { continue }
            if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            runStart = index + 1
            bytes.append(ASCII.backslash)
            switch byte {
            case ASCII.quote: bytes.append(ASCII.quote)
            case ASCII.backslash: bytes.append(ASCII.backslash)
            case ASCII.newline: bytes.append(ASCII.n)
            case ASCII.carriageReturn: bytes.append(ASCII.r)
            case ASCII.tab: bytes.append(ASCII.t)
            case 0x08: bytes.append(ASCII.b)
            case 0x0C: bytes.append(ASCII.f)
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [ASCII.u, ASCII.zero, ASCII.zero, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
    }

    private mutating func appendEscaped(_ utf8: [UInt8]) {
        utf8.withUnsafeBufferPointer { appendEscaped($0) }
    }
}

/// Adds `"key":value` members to an object being written, placing commas between them.
public struct JSONObjectWriter: Sendable {
    var writer: JSONWriter
    var isFirst = true

    init(writer: JSONWriter) { self.writer = writer }

    private mutating func key(_ key: String) {
        if isFirst { isFirst = false } else { writer.bytes.append(ASCII.comma) }
        writer.writeString(key)
        writer.bytes.append(ASCII.colon)
    }

    public mutating func field(_ name: String, _ value: String) { key(name); writer.writeString(value) }
    public mutating func field(_ name: String, _ value: Int64) { key(name); writer.writeInt(value) }
    public mutating func field(_ name: String, _ value: Int) { key(name); writer.writeInt(value) }
    public mutating func field(_ name: String, _ value: Bool) { key(name); writer.writeBool(value) }
    public mutating func field(_ name: String, _ value: Double) { key(name); writer.writeDouble(value) }
    public mutating func field(_ name: String, _ value: JSONValue) { key(name); writer.write(value) }
    public mutating func nullField(_ name: String) { key(name); writer.writeNull() }

    public mutating func objectField(_ name: String, _ body: (inout JSONObjectWriter) -> Void) {
        key(name)
        writer.writeObject(body)
    }

    public mutating func arrayField(_ name: String, _ body: (inout JSONArrayWriter) -> Void) {
        key(name)
        writer.writeArray(body)
    }
}

/// Adds elements to an array being written, placing commas between them.
public struct JSONArrayWriter: Sendable {
    var writer: JSONWriter
    private var first = true

    init(writer: JSONWriter) { self.writer = writer }

    private mutating func separator() {
        if first { first = false } else { writer.bytes.append(ASCII.comma) }
    }

    public mutating func element(_ value: String) { separator(); writer.writeString(value) }
    public mutating func element(_ value: Int64) { separator(); writer.writeInt(value) }
    public mutating func element(_ value: Int) { separator(); writer.writeInt(value) }
    public mutating func element(_ value: Bool) { separator(); writer.writeBool(value) }
    public mutating func element(_ value: JSONValue) { separator(); writer.write(value) }

    public mutating func objectElement(_ body: (inout JSONObjectWriter) -> Void) {
        separator()
        writer.writeObject(body)
    }

    public mutating func arrayElement(_ body: (inout JSONArrayWriter) -> Void) {
        separator()
        writer.writeArray(body)
    }
}

extension JSONValue {
    /// The compact JSON text of this value (members in stored order, no whitespace).
    public func serialized() -> [UInt8] {
        var writer = JSONWriter()
        writer.write(self)
        return writer.bytes
    }

    /// `serialized()` as a String.
    public var jsonText: String { String(decoding: serialized(), as: UTF8.self) }
}
