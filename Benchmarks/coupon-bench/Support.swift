import Foundation
import Glibc
import HTTPServer

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion and returns its standard output (standard error is passed through).
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func hostPort(_ text: String) throws -> (host: String, port: Int) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]) else { throw BenchError("expected host:port, got \(text)") }
    return (String(parts[0]), port)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// VmRSS of a process in kB, from /proc.
func residentKilobytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
    return nil
}

/// Creates a template and an open campaign through the admin API; returns the campaign id.
func createCampaign(node: (host: String, port: Int), adminKey: String, stock: Int64, limit: Int) throws -> Int64 {
    let client = BlockingHTTPClient(host: node.host, port: node.port, timeoutSeconds: 10)
    defer { client.close() }
    let headers = [("Authorization", "Bearer \(adminKey)"), ("Content-Type", "application/json")]
    func post(_ path: String, _ body: String) throws -> Int64 {
        let response = try client.send(method: "POST", path: path, headers: headers, body: Array(body.utf8))
        let text = response.bodyString
        guard response.status == 201, let range = text.range(of: #""id":"#),
            let id = Int64(text[range.upperBound...].prefix { $0.isNumber })
        else { throw BenchError("POST \(path): \(response.status) \(text)") }
        return id
    }
    let template = try post(
        "/v1/templates",
        #"{"name":"bench","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"validity":{"type":"relative","days":7}}"#)
    let formatter = ISO8601DateFormatter()
    let start = formatter.string(from: Date().addingTimeInterval(-60))
    let end = formatter.string(from: Date().addingTimeInterval(86_400))
    return try post(
        "/v1/campaigns",
        #"{"template_id":\#(template),"name":"bench","stock":\#(stock),"per_user_limit":\#(limit),"claim_start":"\#(start)","claim_end":"\#(end)"}"#)
}
