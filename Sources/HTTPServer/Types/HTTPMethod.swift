/// An HTTP request method. The common methods are constants; anything else is `.other(name)`.
/// A struct rather than an enum so `case .GET:` and `==` work for unknown tokens too.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let GET = HTTPMethod(rawValue: "GET")
    public static let POST = HTTPMethod(rawValue: "POST")
    public static let PUT = HTTPMethod(rawValue: "PUT")
    public static let DELETE = HTTPMethod(rawValue: "DELETE")
    public static let PATCH = HTTPMethod(rawValue: "PATCH")
    public static let HEAD = HTTPMethod(rawValue: "HEAD")
    public static let OPTIONS = HTTPMethod(rawValue: "OPTIONS")
    public static let CONNECT = HTTPMethod(rawValue: "CONNECT")
    public static let TRACE = HTTPMethod(rawValue: "TRACE")

    /// The methods of RFC 9110 §9 plus PATCH (RFC 5789). Any other token is answered 501
    /// (`not_implemented`) before routing, and is never echoed or used as a label.
    public static let standard: Set<HTTPMethod> = [.GET, .HEAD, .POST, .PUT, .DELETE, .CONNECT, .OPTIONS, .TRACE, .PATCH]

    /// Stands for any non-standard method in labels and logs.
    public static let unrecognized = HTTPMethod(rawValue: "other")

    public var isStandard: Bool { Self.standard.contains(self) }

    /// The method as a metrics label or log field: a standard method's name, else `other`.
    /// A closed set, so client input cannot grow label cardinality.
    public var label: String { isStandard ? rawValue : "other" }

    // Lower-case spellings, as in swift-nio / hummingbird.
    public static var get: HTTPMethod { .GET }
    public static var post: HTTPMethod { .POST }
    public static var put: HTTPMethod { .PUT }
    public static var delete: HTTPMethod { .DELETE }
    public static var patch: HTTPMethod { .PATCH }
    public static var head: HTTPMethod { .HEAD }
    public static var options: HTTPMethod { .OPTIONS }

    /// Any other method token (e.g. "PURGE"); case-sensitive as RFC 9110 says.
    public static func other(_ token: String) -> HTTPMethod { HTTPMethod(rawValue: token) }

    public var description: String { rawValue }

    /// Maps a method token to a shared constant without allocating for the common methods.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPMethod {
        switch bytes.count {
        case 3:
            if bytes[0] == 0x47, bytes[1] == 0x45, bytes[2] == 0x54 { return .GET }
            if bytes[0] == 0x50, bytes[1] == 0x55, bytes[2] == 0x54 { return .PUT }
        case 4:
            if HTTPSyntax.equals(bytes, "POST") { return .POST }
            if HTTPSyntax.equals(bytes, "HEAD") { return .HEAD }
        case 5:
            if HTTPSyntax.equals(bytes, "PATCH") { return .PATCH }
        case 6:
            if HTTPSyntax.equals(bytes, "DELETE") { return .DELETE }
        case 7:
            if HTTPSyntax.equals(bytes, "OPTIONS") { return .OPTIONS }
        default:
            break
        }
        return HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }
}
