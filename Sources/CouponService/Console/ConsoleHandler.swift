import Foundation
import HTTPServer

/// `GET /console/…`: the console's static files, with validators and security headers.
/// Files are revalidated on every use (`no-cache` + ETag → 304), so a new build is seen at once.
struct ConsoleHandler {
    let assets: ConsoleAssets

    /// The page may load only its own files and talk only to this node; nothing may frame it.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    func redirect(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        var response = HTTPResponse(status: 301)
        response.headers.add(name: "Location", value: "/console/")
        responder.respond(response)
    }

    func index(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        responder.respond(response(for: "index.html", ifNoneMatch: request.headers["if-none-match"]))
    }

    func file(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        responder.respond(response(for: parameters["file"] ?? "", ifNoneMatch: request.headers["if-none-match"]))
    }

    func response(for name: String, ifNoneMatch: String?) -> HTTPResponse {
        guard let asset = assets.files[name] else {
            return .error(status: 404, code: "not_found", message: "no such console file")
        }
        var headers = HTTPHeaders()
        headers.add(name: "ETag", value: asset.etag)
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "Content-Security-Policy", value: Self.contentSecurityPolicy)
        headers.add(name: "X-Frame-Options", value: "DENY")
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        if let ifNoneMatch, Self.matches(ifNoneMatch, etag: asset.etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        headers.add(name: "Content-Type", value: asset.contentType)
        return HTTPResponse(status: 200, headers: headers, body: asset.body)
    }

    /// RFC 9110 §13.1.2: `*`, or any listed tag equal under weak comparison.
    static func matches(_ header: String, etag: String) -> Bool {
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}
