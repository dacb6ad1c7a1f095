import CouponService
import Foundation
import Testing

/// Keeps Sources/CouponService/openapi.yaml honest: every route the router serves is
/// documented with its method, and every documented operation is served.
@Suite struct OpenAPIRouteTests {
    static let specPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/CouponService/openapi.yaml").path

    /// (METHOD, path) pairs of the spec's `paths:` section, read by indentation.
    static func documentedOperations() throws -> Set<String> {
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        var operations: Set<String> = []
        var inPaths = false
        var currentPath: String?
        let methods: Set<String> = ["get", "post", "put", "delete", "patch", "head", "options"]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path = currentPath {
                let key = line.dropFirst(4).split(separator: ":").first.map(String.init) ?? ""
                if methods.contains(key) { operations.insert("\(key.uppercased()) \(path)") }
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteIsServed() throws {
        var configuration = Configuration()
        configuration.flusher = false
        configuration.loops = 1
        configuration.workers = 1
        let node = try Node(configuration: configuration, logger: Logger(minimum: .error))
        defer { node.stop() }
        let served = Set(node.routes.map { "\($0.method) \($0.pattern)" })
        let documented = try Self.documentedOperations()
        #expect(served.count >= 12)
        #expect(served.subtracting(documented).sorted() == [], "routes missing from openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "documented routes the node does not serve")
    }

    /// The file is valid YAML and a valid OpenAPI 3.1 document (openapi-spec-validator, pinned
    /// in the Makefile's `tools` venv), so every client generator and schemathesis can read it.
    @Test func specIsValidOpenAPI() throws {
        let root = URL(fileURLWithPath: Self.specPath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv-tools/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run `make tools`")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-m", "openapi_spec_validator", Self.specPath]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.hasSuffix(": OK\n"), "\(output)")
    }
}
