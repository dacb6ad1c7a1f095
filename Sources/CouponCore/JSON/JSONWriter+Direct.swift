/// Writers for hot-path responses: JSON straight into a caller's buffer (e.g. a response body
/// or an output buffer being filled), with keys given as `StaticString` literals that are
/// copied as-is (no `String`, no escaping pass).
extension JSONWriter {
    /// Runs `body` with a writer appending to `buffer` itself (moved in and back out: no copy).
    public static func append(to buffer: inout [UInt8], _ body: (inout JSONWriter) -> Void) {
        var writer = JSONWriter(capacity: 0)
        swap(&writer.bytes, &buffer)
        body(&writer)
        swap(&writer.bytes, &buffer)
    }

    /// Appends bytes known to be valid JSON text (e.g. a literal key with its quotes).
    public mutating func writeRaw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}

extension JSONObjectWriter {
    /// `"key":` for a key known to need no escaping (a Swift literal of plain ASCII).
    private mutating func literalKey(_ key: StaticString) {
        if isFirst { isFirst = false } else { writer.bytes.append(ASCII.comma) }
        writer.bytes.append(ASCII.quote)
        writer.writeRaw(key)
        writer.bytes.append(ASCII.quote)
        writer.bytes.append(ASCII.colon)
    }

    public mutating func member(_ key: StaticString, _ value: String) { literalKey(key); writer.writeString(value) }
    public mutating func member(_ key: StaticString, _ value: Int64) { literalKey(key); writer.writeInt(value) }
    public mutating func member(_ key: StaticString, _ value: Int) { literalKey(key); writer.writeInt(value) }
    public mutating func member(_ key: StaticString, _ value: Bool) { literalKey(key); writer.writeBool(value) }
    public mutating func nullMember(_ key: StaticString) { literalKey(key); writer.writeNull() }
    /// An RFC 3339 UTC timestamp string (`RFC3339.format`), written without a `String`.
    public mutating func timestampMember(_ key: StaticString, epochMs: Int64) {
        literalKey(key)
        writer.bytes.append(ASCII.quote)
        RFC3339.append(epochMs: epochMs, to: &writer.bytes)
        writer.bytes.append(ASCII.quote)
    }

    public mutating func objectMember(_ key: StaticString, _ body: (inout JSONObjectWriter) -> Void) {
        literalKey(key)
        writer.writeObject(body)
    }
}
