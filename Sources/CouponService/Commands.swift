import CouponCore
import Dispatch
import Foundation
import Issuance
import PostgresClient
import RedisClient
import Store

/// The command-line commands of `coupond`, kept here so tests can drive them too.
public enum Commands {
    /// Runs a node until SIGINT or SIGTERM, then drains it (`Node.drain`) and returns.
    public static func serve(_ configuration: Configuration, logger: Logger) throws {
        signal(SIGPIPE, SIG_IGN)
        let node = try Node(configuration: configuration, logger: logger)
        try node.start()
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        logger.info("node_stopping", ["drain_timeout_seconds": String(configuration.drainTimeoutSeconds)])
        node.drain(timeoutSeconds: configuration.drainTimeoutSeconds, delaySeconds: configuration.drainDelaySeconds)
    }

    public static func migrate(_ configuration: Configuration, logger: Logger) throws {
        let connection = try PostgresConnection(conninfo: configuration.postgres)
        let applied = try CouponSchema.migrate(connection)
        print(applied.isEmpty ? "schema is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
    }

    /// `keys create --role R [--label L]`, `keys list`, `keys revoke ID`.
    public static func keys(_ arguments: [String], _ configuration: Configuration) throws {
        switch arguments.first {
        case "list":
            _ = try parseOptions(arguments, allowed: [], positional: ["list"])
            print(try listKeys(conninfo: configuration.postgres))
            return
        case "revoke":
            guard arguments.count == 2, let id = Int64(arguments[1]), id > 0 else {
                throw Configuration.Error(description: "keys revoke needs a key id (see keys list)")
            }
            switch try revokeKey(id: id, conninfo: configuration.postgres) {
            case .revoked: print("key \(id) revoked; every node refuses it within \(configuration.keyCacheSeconds) s")
            case .alreadyRevoked: print("key \(id) was already revoked")
            case .notFound: throw Configuration.Error(description: "no key with id \(id)")
            }
            return
        default:
            break
        }
        let options = try parseOptions(arguments, allowed: ["role", "label", "store", "business-line"], positional: ["create"])
        guard let roleName = options["role"], let role = Role(rawValue: roleName) else {
            throw Configuration.Error(description: "keys create needs --role issue|checkout|admin|finance|store")
        }
        let key = try createKey(
            role: role, label: options["label"] ?? "", storeId: options["store"], businessLine: options["business-line"],
            conninfo: configuration.postgres)
        print(key)
    }

    /// A `store` key needs `storeId` (and may have `businessLine`); other roles take neither.
    public static func createKey(
        role: Role, label: String, storeId: String? = nil, businessLine: String? = nil, conninfo: String
    ) throws -> String {
        guard (role == .store) == (storeId != nil), role == .store || businessLine == nil else {
            throw Configuration.Error(description: "--store (and --business-line) go with --role store, and --role store needs --store")
        }
        for value in [storeId, businessLine].compactMap({ $0 }) where !Identifier.isValid(value) {
            throw Configuration.Error(description: "store and business line \(Identifier.rule)")
        }
        let connection = try PostgresConnection(conninfo: conninfo)
        try CouponSchema.migrate(connection)
        let key = APIKey.generate()
        _ = try APIKeyStore.insert(
            hash: APIKey.hash(key), role: role.rawValue, label: label, storeId: storeId, businessLine: businessLine, on: connection)
        return key
    }

    /// A table of every key: id, role, label, created, revoked (never the key).
    public static func listKeys(conninfo: String) throws -> String {
        let connection = try PostgresConnection(conninfo: conninfo)
        try CouponSchema.migrate(connection)
        var lines = ["id\trole\tlabel\tcreated\trevoked"]
        for key in try APIKeyStore.list(on: connection) {
            lines.append("\(key.id)\t\(key.role)\t\(key.label)\t\(key.createdAt)\t\(key.revokedAt ?? "-")")
        }
        return lines.joined(separator: "\n")
    }

    public static func revokeKey(id: Int64, conninfo: String) throws -> APIKeyStore.Revocation {
        let connection = try PostgresConnection(conninfo: conninfo)
        return try APIKeyStore.revoke(id: id, on: connection)
    }

    /// Creates keys for every role, a "spend 200, save 30" template and a campaign open
    /// from now for 30 days, publishes it, and prints (and optionally writes) the keys.
    public static func demo(_ arguments: [String], _ configuration: Configuration, logger: Logger) throws {
        let options = try parseOptions(arguments, allowed: ["stock", "per-user-limit", "keys-file"], positional: [])
        let stock = Int64(options["stock"] ?? "1000") ?? 1000
        let limit = Int(options["per-user-limit"] ?? "2") ?? 2
        let connection = try PostgresConnection(conninfo: configuration.postgres)
        try CouponSchema.migrate(connection)
        var lines: [String] = []
        for role in Role.allCases {
            let key = try createKey(
                role: role, label: "demo", storeId: role == .store ? "S1" : nil, conninfo: configuration.postgres)
            lines.append("COUPOND_\(role.rawValue.uppercased())_KEY=\(key)")
        }
        let template = CouponTemplate(
            id: nil, name: "Spend 200, save 30", currency: "CNY", kind: .amountOff(threshold: 20_000, amount: 3_000),
            scope: .everywhere, validity: .relative(days: 7))
        var spec = JSONWriter()
        spec.write(template.json)
        let record = try TemplateStore.insert(
            name: template.name, currency: template.currency, kind: template.kind.wireName,
            specJSON: String(decoding: spec.bytes, as: UTF8.self), faceValue: template.kind.faceValue, on: connection)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var campaign = Campaign(
            id: 0, templateId: record.id, name: "Demo flash sale", stockTotal: stock, perUserLimit: limit,
            claimStartMs: now - 60_000, claimEndMs: now + 30 * 86_400_000, validity: .relative(days: 7))
        campaign = try CampaignStore.insert(campaign, on: connection)
        let redis = try BlockingRedisConnection.open(configuration.redisDeployment, timeoutSeconds: 5)
        try CampaignPublisher.publish(campaign, alreadyIssued: 0, on: redis)
        lines.append("COUPOND_DEMO_CAMPAIGN=\(campaign.id)")
        if let path = options["keys-file"] {
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        print(lines.joined(separator: "\n"))
    }

    /// `--name value` options for a subcommand; positional words must match `positional`.
    static func parseOptions(_ arguments: [String], allowed: Set<String>, positional: [String]) throws -> [String: String] {
        var options: [String: String] = [:]
        var words: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { words.append(argument); continue }
            let name = String(argument.dropFirst(2))
            guard allowed.contains(name), index < arguments.count else {
                throw Configuration.Error(description: "unknown or incomplete option \(argument)")
            }
            options[name] = arguments[index]
            index += 1
        }
        guard words == positional else {
            throw Configuration.Error(description: "expected '\(positional.joined(separator: " "))', got '\(words.joined(separator: " "))'")
        }
        return options
    }
}
