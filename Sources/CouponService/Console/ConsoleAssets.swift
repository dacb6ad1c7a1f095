import Foundation
import HTTPServer

/// The console's static files (Console/assets, shipped as a SwiftPM resource), read once at
/// start-up into memory. Only names in this table are ever served: a request path is looked up,
/// never joined onto a directory, so `..`, `%2e%2e`, `%2f` or absolute paths cannot reach a file.
public struct ConsoleAssets: Sendable {
    public struct Asset: Sendable, Equatable {
        public let body: [UInt8]
        public let contentType: String
        /// Strong validator: a quoted prefix of the content's SHA-256.
        public let etag: String
    }

    public let files: [String: Asset]

    /// Types by extension; a file with any other extension is not served.
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon", "json": "application/json",
        "txt": "text/plain; charset=utf-8",
    ]

    public init(files: [String: [UInt8]]) {
        var table: [String: Asset] = [:]
        for (name, body) in files {
            guard let type = Self.contentType(of: name) else { continue }
            let digest = SHA256.digest(body).prefix(12).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
            table[name] = Asset(body: body, contentType: type, etag: "\"\(digest)\"")
        }
        self.files = table
    }

    static func contentType(of name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return contentTypes[String(name[name.index(after: dot)...]).lowercased()]
    }

    /// Every regular file directly in `directory` (the asset folder is flat on purpose).
    public static func load(directory: URL) -> ConsoleAssets {
        let manager = FileManager.default
        var files: [String: [UInt8]] = [:]
        for name in (try? manager.contentsOfDirectory(atPath: directory.path)) ?? [] where !name.hasPrefix(".") {
            if let data = manager.contents(atPath: directory.appendingPathComponent(name).path) { files[name] = Array(data) }
        }
        return ConsoleAssets(files: files)
    }

    /// The assets shipped with this build: `COUPOND_CONSOLE_DIR` if set, else the resource bundle.
    public static func shipped() -> ConsoleAssets {
        if let directory = ProcessInfo.processInfo.environment["COUPOND_CONSOLE_DIR"], !directory.isEmpty {
            return load(directory: URL(fileURLWithPath: directory))
        }
        guard let url = Bundle.module.url(forResource: "assets", withExtension: nil) else { return ConsoleAssets(files: [:]) }
        return load(directory: url)
    }
}
