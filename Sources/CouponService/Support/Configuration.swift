import Foundation
import RedisClient

/// Node settings from `--flags` and `COUPOND_*` environment variables (flags win).
/// `--redis-command-timeout-ms 500` and `COUPOND_REDIS_COMMAND_TIMEOUT_MS=500` are the same setting.
public struct Configuration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var loops = ProcessInfo.processInfo.activeProcessorCount
    public var workers = 4
    public var redis: RedisEndpoint = .tcp(host: "127.0.0.1", port: 6379)
    public var postgres = "host=127.0.0.1 port=5432 dbname=coupond user=coupond"
    public var nodeId = Configuration.defaultNodeId()
    public var flusher = true
    public var redisCommandTimeoutMs = 1_000
    public var logLevel: Logger.Level = .info
    /// How long a node answers `sold_out` for a campaign from memory before asking Redis again.
    public var soldOutMarkMs = 250
    public var campaignSyncSeconds = 30.0
    public var idleTimeoutSeconds = 60.0
    public var headerTimeoutSeconds = 10.0
    /// Count claims per second and outcome in Redis for the console's live charts (issue 14).
    public var claimSeries = true

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The settings this parser knows, with their help text.
    public static let settings: [(name: String, help: String)] = [
        ("host", "address to listen on (127.0.0.1)"),
        ("port", "TCP port to listen on (8080)"),
        ("loops", "event loops, one per core by default"),
        ("workers", "threads for PostgreSQL work (4)"),
        ("redis", "Redis as host:port or unix:/path (127.0.0.1:6379)"),
        ("postgres", "libpq conninfo string"),
        ("node-id", "this node's name, also its flusher consumer name"),
        ("flusher", "run the stream flusher: true/false (true)"),
        ("redis-command-timeout-ms", "fail Redis commands after this long (1000)"),
        ("log-level", "debug, info, warning, error (info)"),
        ("sold-out-mark-ms", "remember a sold-out campaign locally this long (250)"),
        ("campaign-sync-seconds", "re-publish campaigns to Redis this often (30)"),
        ("idle-timeout-seconds", "close idle keep-alive connections after (60)"),
        ("header-timeout-seconds", "close connections whose request head takes longer (10)"),
        ("claim-series", "count claims per second in Redis for the console's charts: true/false (true)"),
    ]

    /// Parses `arguments` (without the program and subcommand) over `environment`.
    /// Returns the configuration and the arguments it did not recognize.
    public static func parse(arguments: [String], environment: [String: String]) throws -> (Configuration, [String]) {
        var values: [String: String] = [:]
        for (name, _) in settings {
            let variable = "COUPOND_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            if let value = environment[variable] { values[name] = value }
        }
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { rest.append(argument); continue }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard settings.contains(where: { $0.name == name }) else { rest.append(argument); continue }
            if value == nil {
                guard index < arguments.count else { throw Error(description: "--\(name) needs a value") }
                value = arguments[index]
                index += 1
            }
            values[name] = value
        }
        var configuration = Configuration()
        for (name, value) in values { try configuration.set(name, value) }
        return (configuration, rest)
    }

    private mutating func set(_ name: String, _ value: String) throws {
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Error(description: "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(value)'")
            }
            return number
        }
        func double() throws -> Double {
            guard let number = Double(value), number > 0 else { throw Error(description: "\(name) must be a positive number") }
            return number
        }
        switch name {
        case "host": host = value
        case "port": port = try int(0...65535)
        case "loops": loops = try int(1...256)
        case "workers": workers = try int(1...256)
        case "redis": redis = try Self.parseRedis(value)
        case "postgres": postgres = value
        case "node-id":
            guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
                throw Error(description: "node-id must be letters, digits, - _ . :")
            }
            nodeId = value
        case "flusher":
            guard let flag = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                throw Error(description: "flusher must be true or false")
            }
            flusher = flag
        case "redis-command-timeout-ms": redisCommandTimeoutMs = try int(1...60_000)
        case "log-level":
            guard let level = ["debug": Logger.Level.debug, "info": .info, "warning": .warning, "error": .error][value] else {
                throw Error(description: "log-level must be debug, info, warning or error")
            }
            logLevel = level
        case "sold-out-mark-ms": soldOutMarkMs = try int(0...10_000)
        case "campaign-sync-seconds": campaignSyncSeconds = try double()
        case "idle-timeout-seconds": idleTimeoutSeconds = try double()
        case "header-timeout-seconds": headerTimeoutSeconds = try double()
        case "claim-series":
            guard let flag = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                throw Error(description: "claim-series must be true or false")
            }
            claimSeries = flag
        default: throw Error(description: "unknown setting \(name)")
        }
    }

    public static func parseRedis(_ value: String) throws -> RedisEndpoint {
        if value.hasPrefix("unix:") { return .unix(path: String(value.dropFirst(5))) }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw Error(description: "redis must be host:port or unix:/path, got '\(value)'")
        }
        return .tcp(host: String(parts[0]), port: port)
    }

    static func defaultNodeId() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(cString: name).filter { $0.isLetter || $0.isNumber || $0 == "-" }
        return "\(host.isEmpty ? "node" : host)-\(getpid())"
    }
}
