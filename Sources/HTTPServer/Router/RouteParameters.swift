/// Values captured by `{name}` segments of a route pattern, percent-decoded.
public struct RouteParameters: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    private var storage: [(name: String, value: String)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        storage = elements.map { (name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> String? {
        for entry in storage where entry.name == name { return entry.value }
        return nil
    }

    public var count: Int { storage.count }

    public var dictionary: [String: String] {
        Dictionary(storage.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    mutating func append(name: String, value: String) {
        storage.append((name: name, value: value))
    }

    mutating func removeLast() { storage.removeLast() }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        storage.makeIterator()
    }

    public static func == (lhs: RouteParameters, rhs: RouteParameters) -> Bool {
        lhs.dictionary == rhs.dictionary
    }
}
