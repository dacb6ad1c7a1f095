import Foundation

/// What one `coupon-load` run does, from flags and an optional scenario file of
/// `name = value` lines using the same names as the flags (flags win).
struct LoadOptions {
    enum Distribution: String { case uniform, zipf }

    var targets: [(host: String, port: Int)] = [("127.0.0.1", 8080)]
    var campaignId: Int64?
    var createStock: Int64?
    var createLimit: Int = 1
    /// Stock shards of the created campaign (issue 10); 1 = unsharded.
    var createShards: Int = 1
    /// `--shard-skew K`: two users in three are ids homed on shard 0 of a K-shard campaign
    /// (issue 10: demand the stock split does not match, so shards must transfer); 0 = off.
    var shardSkew: Int = 0
    var keysFile: String?
    var users = 10_000
    var distribution = Distribution.uniform
    var zipfExponent = 1.1
    var claimsPerUser = 1
    var connections = 64
    var durationSeconds = 10.0
    /// Open loop when set: arrivals per second on a fixed schedule.
    var rate: Double?
    var timeoutMs = 2_000
    var retries = 3
    var loops = 1
    var redis: (host: String, port: Int)?
    var postgres: String?
    var flushWaitSeconds = 60.0
    var jsonPath: String?
    var svgPath: String?
    var quiet = false
    var label = "coupon-load"

    static let usage = """
        usage: coupon-load [--scenario FILE] --target host:port[,host:port...] (--campaign ID | --create-campaign stock=N,limit=M[,shards=K])
                           --keys-file FILE [--users N] [--distribution uniform|zipf] [--zipf-exponent S] [--shard-skew K]
                           [--claims-per-user K] [--connections N] [--duration S] [--rate R]
                           [--timeout-ms MS] [--retries N] [--loops N]
                           [--redis host:port] [--postgres CONNINFO] [--flush-wait S]
                           [--json out.json] [--svg out.svg] [--label NAME] [--quiet]

        Closed loop by default (every connection sends its next claim as soon as the last is
        answered); --rate R switches to an open loop with R arrivals/s on a fixed schedule, and
        latency is measured from each claim's scheduled time. A claim that times out is resent
        with the same request_id. With --redis and --postgres it checks the guarantees after the
        flush and exits 1 on any violation.
        """

    static func parse(_ arguments: [String]) throws -> LoadOptions {
        var values: [(String, String)] = []
        var index = 0
        var flags: Set<String> = []
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { throw LoadError("unexpected argument \(argument)") }
            var name = String(argument.dropFirst(2))
            if name == "quiet" || name == "help" { flags.insert(name); continue }
            var value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard index < arguments.count else { throw LoadError("--\(name) needs a value") }
                value = arguments[index]
                index += 1
            }
            if name == "scenario" {
                let text = try String(contentsOfFile: value, encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                    guard let equals = trimmed.firstIndex(of: "=") else { throw LoadError("scenario line without '=': \(trimmed)") }
                    values.insert(
                        (trimmed[..<equals].trimmingCharacters(in: .whitespaces),
                         trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)), at: 0)
                }
                continue
            }
            values.append((name, value))
        }
        if flags.contains("help") { print(usage); exit(0) }
        var options = LoadOptions()
        options.quiet = flags.contains("quiet")
        for (name, value) in values { try options.set(name, value) }
        guard options.campaignId != nil || options.createStock != nil else {
            throw LoadError("need --campaign ID or --create-campaign stock=N,limit=M")
        }
        guard options.keysFile != nil else { throw LoadError("need --keys-file (as written by `coupond demo --keys-file`)") }
        return options
    }

    private mutating func set(_ name: String, _ value: String) throws {
        func int() throws -> Int {
            guard let number = Int(value), number >= 0 else { throw LoadError("--\(name) must be a whole number, got '\(value)'") }
            return number
        }
        func double() throws -> Double {
            guard let number = Double(value), number > 0 else { throw LoadError("--\(name) must be a positive number, got '\(value)'") }
            return number
        }
        switch name {
        case "target": targets = try value.split(separator: ",").map { try Self.hostPort(String($0)) }
        case "campaign":
            guard let id = Int64(value), id > 0 else { throw LoadError("--campaign must be a campaign id") }
            campaignId = id
        case "create-campaign":
            for part in value.split(separator: ",") {
                let pair = part.split(separator: "=")
                guard pair.count == 2, let number = Int64(pair[1]), number >= 0 else { throw LoadError("--create-campaign stock=N,limit=M") }
                switch pair[0] {
                case "stock": createStock = number
                case "limit": createLimit = Int(number)
                case "shards": createShards = Int(number)
                default: throw LoadError("--create-campaign knows stock, limit and shards, not \(pair[0])")
                }
            }
            guard createStock != nil else { throw LoadError("--create-campaign needs stock=N") }
        case "keys-file": keysFile = value
        case "users": users = max(1, try int())
        case "distribution":
            guard let parsed = Distribution(rawValue: value) else { throw LoadError("--distribution is uniform or zipf") }
            distribution = parsed
        case "zipf-exponent": zipfExponent = try double()
        case "shard-skew": shardSkew = try int()
        case "claims-per-user": claimsPerUser = max(1, try int())
        case "connections": connections = max(1, try int())
        case "duration": durationSeconds = try double()
        case "rate": rate = try double()
        case "timeout-ms": timeoutMs = max(1, try int())
        case "retries": retries = try int()
        case "loops": loops = max(1, try int())
        case "redis": redis = try Self.hostPort(value)
        case "postgres": postgres = value
        case "flush-wait": flushWaitSeconds = try double()
        case "json": jsonPath = value
        case "svg": svgPath = value
        case "label": label = value
        default: throw LoadError("unknown option --\(name)\n\n\(Self.usage)")
        }
    }

    static func hostPort(_ text: String) throws -> (host: String, port: Int) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw LoadError("expected host:port, got '\(text)'")
        }
        return (parts[0] == "localhost" ? "127.0.0.1" : String(parts[0]), port)
    }

    /// `NAME=value` lines as written by `coupond demo --keys-file`.
    static func readKeys(_ path: String) throws -> [String: String] {
        var keys: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            keys[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return keys
    }
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
