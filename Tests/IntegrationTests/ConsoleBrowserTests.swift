import CouponCore
import CouponService
import Foundation
import Testing

import ServiceTestSupport

/// The campaign console in real headless Chromium (issue 14): Console/console_browser.py drives
/// it against this node. Needs `make console-tools` (chromium, chromium-driver, Selenium in
/// .venv-console); without them the test fails, it does not skip.
@Suite struct ConsoleBrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func consoleWorksInChromium() throws {
        let python = Self.root.appendingPathComponent(".venv-console/bin/python").path
        let script = Self.root.appendingPathComponent("Tests/IntegrationTests/Console/console_browser.py").path
        for tool in [python, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run `make console-tools`")
        }
        let node = try TestNode.start(loops: 2)
        defer { node.stop() }
        let hostileName = "<img src=x onerror=alert(1)>"
        let template = try node.createTemplate()
        let hostile = try Self.createCampaign(node, template: template, name: hostileName)
        let campaign = try Self.createCampaign(node, template: template, name: "Flash sale")
        let inStore = try Self.createCampaign(node, template: template, name: "In-store")
        let output = Self.root.appendingPathComponent(".build/test-output/console").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            script, "--port", String(node.port), "--admin-key", node.keys[.admin]!, "--finance-key", node.keys[.finance]!,
            "--issue-key", node.keys[.issue]!, "--checkout-key", node.keys[.checkout]!, "--store-key", node.keys[.store]!,
            "--store-campaign", String(inStore), "--campaign", String(campaign),
            "--hostile", String(hostile), "--hostile-name", hostileName, "--conninfo", node.conninfo, "--out", output,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let started = Date()
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: killer)
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        killer.cancel()
        for line in text.split(separator: "\n") where line.hasPrefix("FIGURE:") { print(line) }
        print("FIGURE: console browser test took \(String(format: "%.1f", Date().timeIntervalSince(started))) s; screenshots in \(output)")
        #expect(process.terminationStatus == 0, "console_browser.py failed:\n\(text.suffix(4000))")
    }

    static func createCampaign(_ node: TestNode, template: Int64, name: String) throws -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let response = try node.request(
            "POST", "/v1/campaigns", as: .admin,
            body: """
                {"template_id":\(template),"name":"\(name)","stock":50,"per_user_limit":1,
                 "claim_start":"\(RFC3339.format(epochMs: now - 60_000))","claim_end":"\(RFC3339.format(epochMs: now + 86_400_000))"}
                """)
        return try #require(try JSONParser.parse(response.body)["id"]?.int64Value, "\(response.status) \(response.bodyString)")
    }
}
