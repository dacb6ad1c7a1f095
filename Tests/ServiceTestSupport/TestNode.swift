import CouponCore
import CouponService
import Foundation
import HTTPServer
import GrantFlusher
import PostgresClient
import RedisClient
import TestSupport

/// A coupond node running in the test process against its own redis-server and a fresh
/// PostgreSQL database, with an API key for every role. Tests talk to it over real HTTP.
public final class TestNode: @unchecked Sendable {  // fields are set once in `start`; `node` is replaced only by `restartNode`
    public let redis: RedisServer
    public let conninfo: String
    public private(set) var node: Node
    public let keys: [Role: String]
    public let configuration: Configuration
    /// Set when the node runs on Redis Cluster (`redis` is then the cluster's first node).
    public let cluster: RedisCluster?

    /// Starts Redis (or uses `redis`), creates a database, starts a node on a free port.
    /// With `cluster`, the node runs on that Redis Cluster (`--redis-cluster` with every node as a seed).
    public static func start(
        redis: RedisServer? = nil, cluster: RedisCluster? = nil, appendFsyncAlways: Bool = false, loops: Int = 2, flusher: Bool = true,
        flusherOptions: Flusher.Options = TestNode.fastFlusher, conninfo: String? = nil,
        configure: (inout Configuration) -> Void = { _ in }
    ) throws -> TestNode {
        let redisServer = try cluster?.servers[0] ?? redis ?? RedisServer.start(appendOnly: appendFsyncAlways, appendFsyncAlways: appendFsyncAlways)
        let database = try conninfo ?? PostgresServer.shared().createDatabase(prefix: "node")
        var keys: [Role: String] = [:]
        for role in Role.allCases {
            // The store key acts for store S1 (store write-off tests create others).
            keys[role] = try Commands.createKey(role: role, label: "test", storeId: role == .store ? "S1" : nil, conninfo: database)
        }
        var configuration = Configuration()
        configuration.port = 0
        configuration.loops = loops
        configuration.workers = 4
        configuration.redis = redisServer.endpoint
        configuration.redisCluster = cluster?.seeds ?? []
        configuration.postgres = database
        configuration.flusher = flusher
        configuration.nodeId = "test-\(UUID().uuidString.prefix(8))"
        configuration.logLevel = .warning
        configure(&configuration)
        let node = try Node(configuration: configuration, logger: Logger(minimum: .error), flusherOptions: flusherOptions)
        try node.start()
        return TestNode(redis: redisServer, cluster: cluster, conninfo: database, node: node, keys: keys, configuration: configuration)
    }

    /// A node on a fresh standalone Redis, or on the shared Redis Cluster emptied first
    /// (for suites that run on both).
    public static func start(backend: RedisBackend, configure: (inout Configuration) -> Void = { _ in }) throws -> TestNode {
        switch backend {
        case .standalone:
            return try start(configure: configure)
        case .cluster:
            let cluster = try RedisCluster.shared()
            try cluster.flushAll()
            return try start(cluster: cluster, configure: configure)
        }
    }

    /// Flusher settings for tests: small blocks, quick takeover of idle entries.
    public static var fastFlusher: Flusher.Options {
        var options = Flusher.Options()
        options.blockMilliseconds = 20
        options.claimIdleMilliseconds = 500
        options.sweepSeconds = 0.2
        options.sweepSliceSeconds = 0.1
        options.trimEverySeconds = 0.2
        return options
    }

    private init(redis: RedisServer, cluster: RedisCluster?, conninfo: String, node: Node, keys: [Role: String], configuration: Configuration) {
        self.redis = redis
        self.cluster = cluster
        self.conninfo = conninfo
        self.node = node
        self.keys = keys
        self.configuration = configuration
    }

    public var port: Int { node.port }

    public func stop() { node.stop() }

    /// A new HTTP connection to the node.
    public func client(timeoutSeconds: Double = 10) -> BlockingHTTPClient {
        BlockingHTTPClient(host: "127.0.0.1", port: port, timeoutSeconds: timeoutSeconds)
    }

    /// One request on a fresh connection, authenticated as `role` (nil: no key).
    @discardableResult
    public func request(_ method: String, _ path: String, as role: Role?, body: String? = nil) throws -> HTTPClientResponse {
        let client = client()
        defer { client.close() }
        return try send(on: client, method, path, as: role, body: body)
    }

    public func send(on client: BlockingHTTPClient, _ method: String, _ path: String, as role: Role?, body: String? = nil) throws -> HTTPClientResponse {
        var headers: [(String, String)] = []
        if let role { headers.append(("Authorization", "Bearer \(keys[role]!)")) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return try client.send(method: method, path: path, headers: headers, body: body.map { Array($0.utf8) })
    }

    /// Creates a template through the API; returns its id.
    public func createTemplate(_ json: String = TestNode.amountOffTemplate) throws -> Int64 {
        let response = try request("POST", "/v1/templates", as: .admin, body: json)
        guard response.status == 201, let id = try JSONParser.parse(response.body)["id"]?.int64Value else {
            throw TestSupportError("template create failed: \(response.status) \(response.bodyString)")
        }
        return id
    }

    public static let amountOffTemplate = """
        {"name":"Spend 200 save 30","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,
         "validity":{"type":"relative","days":7}}
        """

    /// Creates a campaign open from a minute ago for a day (unless given); returns its id.
    public func createCampaign(
        stock: Int64, perUserLimit: Int, templateId: Int64? = nil, claimStart: String? = nil, claimEnd: String? = nil,
        extra: String = ""
    ) throws -> Int64 {
        let template = try templateId ?? createTemplate()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let start = claimStart ?? RFC3339.format(epochMs: now - 60_000)
        let end = claimEnd ?? RFC3339.format(epochMs: now + 86_400_000)
        let body = """
            {"template_id":\(template),"name":"test campaign","stock":\(stock),"per_user_limit":\(perUserLimit),
             "claim_start":"\(start)","claim_end":"\(end)"\(extra)}
            """
        let response = try request("POST", "/v1/campaigns", as: .admin, body: body)
        guard response.status == 201, let id = try JSONParser.parse(response.body)["id"]?.int64Value else {
            throw TestSupportError("campaign create failed: \(response.status) \(response.bodyString)")
        }
        return id
    }

    /// Claims once; returns the response.
    public func claim(campaignId: Int64, userId: String, requestId: String, on client: BlockingHTTPClient? = nil) throws -> HTTPClientResponse {
        let body = #"{"user_id":"\#(userId)","request_id":"\#(requestId)"}"#
        if let client { return try send(on: client, "POST", "/v1/campaigns/\(campaignId)/claims", as: .issue, body: body) }
        return try request("POST", "/v1/campaigns/\(campaignId)/claims", as: .issue, body: body)
    }

    public func postgres() throws -> PostgresConnection { try PostgresConnection(conninfo: conninfo) }

    public func redisClient() throws -> BlockingRedisConnection { try cluster?.client() ?? redis.client() }

    /// Coupon rows of a campaign in PostgreSQL.
    public func couponCount(campaignId: Int64) throws -> Int {
        try postgres().execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [campaignId]).first!.int(0)
    }

    /// Waits until PostgreSQL holds `expected` coupons of the campaign.
    public func waitForFlush(campaignId: Int64, expected: Int, seconds: Double = 30) throws -> Bool {
        let connection = try postgres()
        return TestEnvironment.waitUntil(seconds: seconds, interval: 0.05) {
            (try? connection.execute("SELECT count(*) FROM coupons WHERE campaign_id = $1", [campaignId]).first?.int(0)) == expected
        }
    }
}

/// Which Redis a claim-path test runs on.
public enum RedisBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case standalone, cluster
    public var description: String { rawValue }
}
