/// An ordered list of header fields with ASCII case-insensitive lookup by name.
/// Duplicates are kept in arrival order; `headers["host"]` returns the first.
///
/// A request's headers arrive as `RawHeaderFields`: one copy of the head's bytes and the
/// name/value spans in it (one array for any number of fields, reused by the parser for the
/// next head once this request is gone). Lookups compare bytes
/// and make a `String` only for the value asked for; the first mutation or iteration turns
/// them into ordinary fields.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)

    @usableFromInline var fields: [(name: String, value: String)]
    /// When set, the fields live here (and `fields` is empty).
    var raw: RawHeaderFields?

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    init(raw: RawHeaderFields) {
        fields = []
        self.raw = raw
    }

    public var count: Int { raw?.count ?? fields.count }
    public var isEmpty: Bool { count == 0 }

    /// Every field as Strings, in order.
    private var allFields: [(name: String, value: String)] {
        guard let raw else { return fields }
        return raw.indices.map { (name: raw.name($0), value: raw.value($0)) }
    }

    private mutating func materialize() {
        guard raw != nil else { return }
        fields = allFields
        raw = nil
    }

    public mutating func add(name: String, value: String) {
        materialize()
        fields.append((name: name, value: value))
    }

    /// Replaces every field called `name` with one field (appended if absent).
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        fields.append((name: name, value: value))
    }

    public mutating func remove(name: String) {
        materialize()
        fields.removeAll { Self.equalsIgnoringCase($0.name, name) }
    }

    /// The first value for `name`; setting replaces all (nil removes).
    public subscript(name: String) -> String? {
        get {
            if let raw {
                guard let index = raw.firstIndex(named: name) else { return nil }
                return raw.value(index)
            }
            for field in fields where Self.equalsIgnoringCase(field.name, name) { return field.value }
            return nil
        }
        set {
            if let newValue { replaceOrAdd(name: name, value: newValue) } else { remove(name: name) }
        }
    }

    /// Calls `body` with the bytes of the first value for `name` (nil when absent), without
    /// building a `String` for a head's spans.
    public func withFirstValueBytes<R>(for name: String, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        if let raw {
            guard let index = raw.firstIndex(named: name) else { return body(nil) }
            let span = raw[span: index]
            return raw.withHeadBytes { all in
                body(UnsafeBufferPointer(rebasing: all[Int(span.valueStart)..<Int(span.valueEnd)]))
            }
        }
        guard var value = self[name] else { return body(nil) }
        return value.withUTF8 { body($0) }
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        if let raw { return raw.indices(named: name).map { raw.value($0) } }
        return fields.compactMap { Self.equalsIgnoringCase($0.name, name) ? $0.value : nil }
    }

    public func contains(name: String) -> Bool {
        if let raw { return raw.firstIndex(named: name) != nil }
        return self[name] != nil
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        allFields.makeIterator()
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        let left = lhs.allFields, right = rhs.allFields
        return left.count == right.count && zip(left, right).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison without allocating lower-cased copies.
    @inlinable
    static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }  // O(1) for native strings: most names differ here
        var lhs = lhs, rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                for index in 0..<left.count {
                    let a = left[index], b = right[index]
                    if a == b { continue }
                    if a | 0x20 != b | 0x20 { return false }
                    let lower = a | 0x20
                    if lower < 0x61 || lower > 0x7A { return false }
                }
                return true
            }
        }
    }
}

/// A request head's header fields as spans of one copy of the head's bytes (made by
/// `HTTPRequestParser`): no `String` per name or value until one is asked for. The copy and the
/// spans share one allocation: the head's bytes, then one 16-byte `Span` per field.
struct RawHeaderFields: Sendable {
    struct Span: Sendable, Equatable {
        var nameStart: Int32, nameEnd: Int32, valueStart: Int32, valueEnd: Int32
    }

    /// The head's bytes (`headCount` of them), then `count` spans relative to them.
    private let storage: [UInt8]
    private let headCount: Int
    /// Number of fields.
    let count: Int

    /// Copies `head` and `spans` (positions in the buffer `head` was cut from) into one new array.
    init(head: ArraySlice<UInt8>, spans: [Span]) {
        let shift = Int32(head.startIndex)
        let relative = spans.map {
            Span(nameStart: $0.nameStart - shift, nameEnd: $0.nameEnd - shift, valueStart: $0.valueStart - shift, valueEnd: $0.valueEnd - shift)
        }
        var storage: [UInt8] = []
        self = head.withUnsafeBufferPointer { bytes in
            relative.withUnsafeBufferPointer { RawHeaderFields(head: bytes, spans: $0, reusing: &storage) }
        }
    }

    /// Copies `head` and `spans` (positions in `head`) into `storage`, emptied first, and shares
    /// it: two appends, at most one allocation. The parser passes the previous head's array:
    /// once no request holds that any more it is refilled in place (no allocation); while one
    /// does, the first change gives `storage` a new buffer (copy on write), and the request
    /// held keeps its bytes. (`init(unsafeUninitializedCapacity:)` allocated through an
    /// unspecialized path that looked up the array's generic metadata on every call.)
    init(head: UnsafeBufferPointer<UInt8>, spans: UnsafeBufferPointer<Span>, reusing storage: inout [UInt8]) {
        let size = head.count + spans.count * MemoryLayout<Span>.stride
        if storage.capacity < size {
            storage = []
            storage.reserveCapacity(size)
            storage.append(contentsOf: head)
        } else {
            storage.replaceSubrange(0..<storage.count, with: head)  // one call, not emptying then appending
        }
        storage.append(contentsOf: UnsafeRawBufferPointer(spans))
        headCount = head.count
        count = spans.count
        self.storage = storage
    }

    var indices: Range<Int> { 0..<count }

    subscript(span index: Int) -> Span {
        precondition(index >= 0 && index < count, "header index out of range")
        return storage.withUnsafeBytes {
            $0.loadUnaligned(fromByteOffset: headCount + index * MemoryLayout<Span>.stride, as: Span.self)
        }
    }

    /// Calls `body` with the head's bytes.
    func withHeadBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        storage.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<headCount])) }
    }

    func name(_ index: Int) -> String {
        let span = self[span: index]
        return String(decoding: storage[Int(span.nameStart)..<Int(span.nameEnd)], as: UTF8.self)
    }

    func value(_ index: Int) -> String {
        let span = self[span: index]
        return String(decoding: storage[Int(span.valueStart)..<Int(span.valueEnd)], as: UTF8.self)
    }

    func firstIndex(named name: String) -> Int? {
        var name = name
        return name.withUTF8 { wanted in
            withHeadBytes { all in
                for index in indices where Self.nameEquals(all, self[span: index], wanted) { return index }
                return nil
            }
        }
    }

    func indices(named name: String) -> [Int] {
        var name = name
        return name.withUTF8 { wanted in
            withHeadBytes { all in indices.filter { Self.nameEquals(all, self[span: $0], wanted) } }
        }
    }

    /// ASCII case-insensitive comparison of a span's name with `wanted`.
    @inline(__always)
    static func nameEquals(_ all: UnsafeBufferPointer<UInt8>, _ span: Span, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(span.nameStart)
        guard Int(span.nameEnd) - start == wanted.count else { return false }
        for offset in 0..<wanted.count {
            let a = all[start + offset], b = wanted[offset]
            if a == b { continue }
            let lower = a | 0x20
            if lower != b | 0x20 || lower < 0x61 || lower > 0x7A { return false }
        }
        return true
    }
}

extension RawHeaderFields.Span {
    /// A field line at `lineStart` in the head, the other positions relative to the line.
    /// Unchecked conversions: a head is at most `maxHeaderBytes` (below `Int32.max`, checked when
    /// the parser is made), and a line that would pass it is refused before its span is kept.
    @inline(__always)
    init(lineStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int) {
        let origin = Int32(truncatingIfNeeded: lineStart)
        self.init(
            nameStart: origin, nameEnd: origin &+ Int32(truncatingIfNeeded: nameEnd),
            valueStart: origin &+ Int32(truncatingIfNeeded: valueStart), valueEnd: origin &+ Int32(truncatingIfNeeded: valueEnd))
    }
}
