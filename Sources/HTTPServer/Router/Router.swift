import Glibc

/// Handles one request. Called on the connection's event-loop thread; must call
/// `responder.respond(_:)` exactly once, from any thread, now or later.
public typealias RouteHandler = (HTTPRequest, RouteParameters, Responder) -> Void

/// A registered route.
public struct Route {
    public let method: HTTPMethod
    public let pattern: String
    public let bodyLimit: Int
    /// The handler runs as soon as the head is read and receives the body in chunks through
    /// `HTTPRequest.bodyStream` (`HTTPBodyStream`); `HTTPRequest.body` is empty.
    public let streaming: Bool
    public let handler: RouteHandler
}

/// Maps (method, path) to a handler. Patterns are `/`-separated segments; `{name}` captures a
/// segment. Lookup walks a segment tree (no regex), static segments before parameters.
/// Routes are added before the server starts; afterwards the router is only read.
/// HEAD is served wherever GET is (RFC 9110 §9.3.2): without a HEAD route of its own, a HEAD
/// request finds the GET route, and the connection sends GET's head without the body.
public final class Router: @unchecked Sendable {  // mutated only before serving, then read-only from every loop
    final class Node {
        /// Static children by their segment's bytes: a node has a handful, so a length check and
        /// a `memcmp` each beat hashing a `String` made for the lookup.
        var statics: [(segment: [UInt8], node: Node)] = []
        var parameter: (name: String, node: Node)?
        var routes: [HTTPMethod: Route] = [:]

        func staticChild(_ segment: UnsafeBufferPointer<UInt8>) -> Node? {
            for child in statics where child.segment.count == segment.count {
                let equal = child.segment.withUnsafeBufferPointer { known in
                    segment.isEmpty || memcmp(known.baseAddress!, segment.baseAddress!, segment.count) == 0
                }
                if equal { return child.node }
            }
            return nil
        }
    }

    /// The result of a lookup.
    public enum Match {
        case found(Route, RouteParameters)
        /// The path exists but not for this method; `allowed` is sorted (HEAD where GET is).
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
        /// Not a standard method (`HTTPMethod.standard`): 501 for every path.
        case methodNotImplemented
    }

    private let root = Node()
    private var registered: [(method: HTTPMethod, pattern: String)] = []

    /// Body limit used for requests that match no route (their answer is 404/405 anyway).
    public var defaultBodyLimit: Int

    public init(defaultBodyLimit: Int = 64 * 1024) {
        self.defaultBodyLimit = defaultBodyLimit
    }

    /// Every route in registration order.
    public var routes: [(method: HTTPMethod, pattern: String)] { registered }

    public func add(
        _ method: HTTPMethod, _ pattern: String, bodyLimit: Int = 64 * 1024, streaming: Bool = false, handler: @escaping RouteHandler
    ) {
        var node = root
        for segment in Self.segments(pattern) {
            if segment.first == "{" && segment.last == "}" && segment.count >= 2 {
                let name = String(segment.dropFirst().dropLast())
                if let existing = node.parameter {
                    precondition(existing.name == name, "route \(pattern): parameter {\(name)} conflicts with {\(existing.name)}")
                    node = existing.node
                } else {
                    let child = Node()
                    node.parameter = (name, child)
                    node = child
                }
            } else {
                let key = Array(segment.utf8)
                if let existing = node.statics.first(where: { $0.segment == key }) {
                    node = existing.node
                } else {
                    let child = Node()
                    node.statics.append((key, child))
                    node = child
                }
            }
        }
        precondition(node.routes[method] == nil, "route \(method) \(pattern) registered twice")
        node.routes[method] = Route(method: method, pattern: pattern, bodyLimit: bodyLimit, streaming: streaming, handler: handler)
        registered.append((method, pattern))
    }

    public func get(_ pattern: String, handler: @escaping RouteHandler) { add(.GET, pattern, handler: handler) }
    public func post(_ pattern: String, bodyLimit: Int = 64 * 1024, handler: @escaping RouteHandler) {
        add(.POST, pattern, bodyLimit: bodyLimit, handler: handler)
    }

    /// Finds the route for `path` (no query string; raw, segments are decoded here).
    public func match(_ method: HTTPMethod, path: String) -> Match {
        guard method.isStandard else { return .methodNotImplemented }
        var path = path
        var parameters = RouteParameters()
        var pathMatch: Node?
        let route = path.withUTF8 { bytes -> Route? in
            let start = bytes.first == UInt8(ascii: "/") ? 1 : 0
            return search(root, bytes, start < bytes.count ? start : nil, method, &parameters, &pathMatch)
        }
        if let route { return .found(route, parameters) }
        if let pathMatch {
            var allowed = Set(pathMatch.routes.keys)
            if allowed.contains(.GET) { allowed.insert(.HEAD) }
            return .methodNotAllowed(allowed: allowed.sorted { $0.rawValue < $1.rawValue })
        }
        return .notFound
    }

    /// `segmentStart`: where the path's next segment starts in `path` (nil: no segment left;
    /// `path.count`: one empty segment, as after a trailing slash) — the path is walked in
    /// place, never split into an array or copied into `String`s.
    private func search(
        _ node: Node, _ path: UnsafeBufferPointer<UInt8>, _ segmentStart: Int?, _ method: HTTPMethod,
        _ parameters: inout RouteParameters, _ pathMatch: inout Node?
    ) -> Route? {
        guard let start = segmentStart else {
            if let route = node.routes[method] ?? (method == .HEAD ? node.routes[.GET] : nil) { return route }
            if !node.routes.isEmpty && pathMatch == nil { pathMatch = node }
            return nil
        }
        var end = start
        while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
        let segment = UnsafeBufferPointer(rebasing: path[start..<end])
        let rest: Int? = end < path.count ? end + 1 : nil
        if let child = node.staticChild(segment),
            let route = search(child, path, rest, method, &parameters, &pathMatch)
        {
            return route
        }
        if let (name, child) = node.parameter, !segment.isEmpty {
            parameters.append(name: name, value: PercentDecoding.decode(segment, plusIsSpace: false))
            if let route = search(child, path, rest, method, &parameters, &pathMatch) { return route }
            parameters.removeLast()
        }
        return nil
    }

    /// `/a/b/` → ["a", "b", ""]; the leading slash is dropped, a trailing one is significant.
    static func segments<S: StringProtocol>(_ path: S) -> [Substring] where S.SubSequence == Substring {
        var body = path[...]
        if body.first == "/" { body = body.dropFirst() }
        if body.isEmpty { return [] }
        return body.split(separator: "/", omittingEmptySubsequences: false)
    }
}
