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
        var statics: [String: Node] = [:]
        var parameter: (name: String, node: Node)?
        var routes: [HTTPMethod: Route] = [:]
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
                let key = String(segment)
                if let child = node.statics[key] {
                    node = child
                } else {
                    let child = Node()
                    node.statics[key] = child
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
        var body = path[...]
        if body.first == "/" { body = body.dropFirst() }
        var parameters = RouteParameters()
        var pathMatch: Node?
        if let route = search(root, body.isEmpty ? nil : body, method, &parameters, &pathMatch) {
            return .found(route, parameters)
        }
        if let pathMatch {
            var allowed = Set(pathMatch.routes.keys)
            if allowed.contains(.GET) { allowed.insert(.HEAD) }
            return .methodNotAllowed(allowed: allowed.sorted { $0.rawValue < $1.rawValue })
        }
        return .notFound
    }

    /// `remaining`: the path after the segments matched so far (nil: no segment left; `""`:
    /// one empty segment, as after a trailing slash), walked without splitting it into an array.
    private func search(
        _ node: Node, _ remaining: Substring?, _ method: HTTPMethod,
        _ parameters: inout RouteParameters, _ pathMatch: inout Node?
    ) -> Route? {
        guard let remaining else {
            if let route = node.routes[method] ?? (method == .HEAD ? node.routes[.GET] : nil) { return route }
            if !node.routes.isEmpty && pathMatch == nil { pathMatch = node }
            return nil
        }
        let slash = remaining.firstIndex(of: "/")
        let segment = remaining[..<(slash ?? remaining.endIndex)]
        let rest: Substring? = slash.map { remaining[remaining.index(after: $0)...] }
        if let child = node.statics[String(segment)],
            let route = search(child, rest, method, &parameters, &pathMatch)
        {
            return route
        }
        if let (name, child) = node.parameter, !segment.isEmpty {
            parameters.append(name: name, value: PercentDecoding.decode(segment.utf8, plusIsSpace: false))
            if let route = search(child, rest, method, &parameters, &pathMatch) { return route }
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
