/// Values captured by `{name}` segments of a route pattern, percent-decoded.
public struct RouteParameters: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The first parameter inline: most routes capture one (`/v1/campaigns/{id}/claims`), and
    /// it then costs no array.
    private var first: (name: String, value: String)?
    private var others: [(name: String, value: String)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    public subscript(name: String) -> String? {
        if let first, first.name == name { return first.value }
        for entry in others where entry.name == name { return entry.value }
        return nil
    }

    public var count: Int { first == nil ? 0 : 1 + others.count }

    public var dictionary: [String: String] {
        Dictionary(map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    mutating func append(name: String, value: String) {
        if first == nil { first = (name, value) } else { others.append((name: name, value: value)) }
    }

    mutating func removeLast() {
        if others.isEmpty { first = nil } else { others.removeLast() }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        guard let first else { return [].makeIterator() }
        return ([first] + others).makeIterator()
    }

    public static func == (lhs: RouteParameters, rhs: RouteParameters) -> Bool {
        lhs.dictionary == rhs.dictionary
    }
}
