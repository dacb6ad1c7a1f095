import CouponCore
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

    /// Where the assets are: `COUPOND_CONSOLE_DIR` if set; else the SwiftPM resource bundle next to
    /// the executable (`coupond_CouponService.resources/assets`, copy it along with the binary);
    /// else this source tree. Not `Bundle.module`: on Linux it stops the process when the bundle is missing.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let directory = environment["COUPOND_CONSOLE_DIR"], !directory.isEmpty { return URL(fileURLWithPath: directory) }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("coupond_CouponService.resources/assets"),
            Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("coupond_CouponService.resources/assets"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("assets"),
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }
    }

    /// The assets shipped with this build; none (every console path answers 404) when they cannot be found.
    public static func shipped() -> ConsoleAssets {
        guard let directory = directory() else { return ConsoleAssets(files: [:]) }
        return load(directory: directory)
    }
}
