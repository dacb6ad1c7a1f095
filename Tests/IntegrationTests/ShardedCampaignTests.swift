import CouponCore
import Foundation
import Issuance
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Issue 10 §1 must-shows on the real Redis Cluster (3 masters + 3 replicas, AOF always): one
/// hot campaign with `shards: 3`, two nodes, 64 connections. `make test` runs the same shape
/// at 9,000 claims from 1,800 users, stock 900; `make chaos` sets `COUPOND_CLUSTER_FULL=1`
/// for 50,000 claims from 10,000 users, stock 5,000. Limit 2.
@Suite(.serialized) struct ShardedCampaignTests {
    /// Exactly the stock is granted and lands in PostgreSQL once; nobody above 2; remaining 0
    /// on every shard, nothing in transit, conservation holds (Redis and the reconciliation).
    @Test func threeShardsTwoNodes() throws {
        let run = try ShardedRun.start(ClusterLoadTests.Shape.current)
        defer { run.stop() }
        let result = run.load()
        try run.verify(result, label: "shards")
    }

    /// No stranded stock: every claimant's home shard is shard 0, so two thirds of the stock
    /// must move there by transfers; the sale still ends with exactly the stock granted and
    /// remaining 0 on every shard.
    @Test func allDemandOnOneShardDrainsEveryShard() throws {
        let run = try ShardedRun.start(ClusterLoadTests.Shape(claims: 2_400, users: 600, stock: 900), homeShare: 1)
        defer { run.stop() }
        let result = run.load()
        try run.verify(result, label: "shards-skewed")
        #expect(try run.transfersCredited() > 0)
    }

    /// The same as the first while shard 1's slot moves to another master mid-load, with 60%
    /// of the users on shard 0 so transfers run during the move: no double or lost grant, no
    /// 5xx (claims, transfers and the flusher follow ASK/TRYAGAIN/MOVED).
    @Test func aShardSlotMigratesMidLoad() throws {
        let run = try ShardedRun.start(ClusterLoadTests.Shape.current, homeShare: 0.6)
        defer { run.stop() }
        let migration = try MidLoadMigration(
            run.cluster, slot: RedisClusterSlot.slot(forKey: run.shards[1].tag),
            toOwnerOf: RedisClusterSlot.slot(forKey: run.shards[2].tag), batch: 5)
        // Early (a tenth of the stock's worth of claims), so the move overlaps the sale.
        let result = run.load(after: run.shape.stock / 10, whenOneThirdDone: { migration.run() })
        try migration.check(nodes: run.nodes, label: "shards-migrate")
        try run.verify(result, label: "shards-migrate")
    }
}

/// Two nodes on the shared cluster with one campaign of `shards: 3` whose shards sit on three masters.
final class ShardedRun: @unchecked Sendable {  // immutable after start
    let cluster: RedisCluster
    let nodes: [TestNode]
    let campaign: Int64
    let shards: [CampaignKeys]
    let shape: ClusterLoadTests.Shape
    /// The claimants: `shape.users` ids, the share `homeShare` of them homed on shard 0
    /// (nil: `u0…`, spread by the hash).
    let users: [String]

    static func start(_ shape: ClusterLoadTests.Shape, shardCount: Int = 3, homeShare: Double? = nil) throws -> ShardedRun {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let nodeA = try TestNode.start(cluster: cluster)
        let nodeB = try TestNode.start(cluster: cluster, conninfo: nodeA.conninfo)
        let map = try cluster.slotMap()
        var chosen: Int64?
        for _ in 0..<20 {  // ids are sequential; most campaigns' shards sit on three masters
            let id = try nodeA.createCampaign(stock: Int64(shape.stock), perUserLimit: 2, extra: #","shards":\#(shardCount)"#)
            let owners = Set(CampaignShards.keys(campaignId: id, count: shardCount).map { map.owner(ofSlot: RedisClusterSlot.slot(forKey: $0.tag))! })
            if owners.count == min(3, shardCount) { chosen = id; break }
        }
        guard let chosen else { throw TestSupportError("no campaign whose shards sit on three masters") }
        var users = (0..<shape.users).map { "u\($0)" }
        if let homeShare {
            let onZero = Int(Double(shape.users) * homeShare)
            let ids = (0..<shape.users * shardCount * 4).map { "u\($0)" }
            var zero = ids.filter { CampaignShards.homeShard(userId: $0, count: shardCount) == 0 }.prefix(onZero).makeIterator()
            var other = ids.filter { CampaignShards.homeShard(userId: $0, count: shardCount) != 0 }.prefix(shape.users - onZero).makeIterator()
            // Interleaved in proportion, so every part of the run sees both kinds of claimant.
            users = (0..<shape.users).compactMap { index in
                Int(Double(index + 1) * homeShare) > Int(Double(index) * homeShare) ? zero.next() ?? other.next() : other.next() ?? zero.next()
            }
        }
        return ShardedRun(
            cluster: cluster, nodes: [nodeA, nodeB], campaign: chosen, shards: CampaignShards.keys(campaignId: chosen, count: shardCount),
            shape: shape, users: users)
    }

    private init(
        cluster: RedisCluster, nodes: [TestNode], campaign: Int64, shards: [CampaignKeys], shape: ClusterLoadTests.Shape, users: [String]
    ) {
        self.users = users
        self.cluster = cluster
        self.nodes = nodes
        self.campaign = campaign
        self.shards = shards
        self.shape = shape
    }

    func stop() { for node in nodes.reversed() { node.stop() } }

    /// 64 connections (alternating nodes) send claim i for user i % users; `whenOneThirdDone`
    /// runs after `trigger` claims (default a third of them).
    func load(after trigger: Int? = nil, whenOneThirdDone: (@Sendable () -> Void)? = nil) -> TwoNodeLoad.Result {
        let campaign = self.campaign, users = self.users
        return TwoNodeLoad.run(nodes: nodes, total: shape.claims, trigger: trigger ?? shape.claims / 3, onTrigger: whenOneThirdDone) { index in
            (campaign, users[index % users.count])
        }
    }

    /// Per shard: remaining, issued, stock_total (allocation), xin, xout, open transfers.
    func shardFigures() throws -> [[Int64]] {
        let redis = try cluster.client()
        return try shards.map { keys in
            let meta = try redis.command(
                ["HMGET", .string(keys.meta), .string(CampaignMeta.issued), .string(CampaignMeta.stockTotal), .string(CampaignMeta.transferredIn),
                 .string(CampaignMeta.transferredOut)]
            ).array ?? []
            let remaining = try redis.command(["GET", .string(keys.stock)]).string.flatMap(Int64.init) ?? -1
            let open = try redis.command(["HLEN", .string(keys.transfersOut)]).int ?? -1
            return [remaining] + meta.map { $0.string.flatMap(Int64.init) ?? 0 } + [open]
        }
    }

    func verify(_ result: TwoNodeLoad.Result, label: String) throws {
        let shape = self.shape
        result.expectEveryClaimAnswered(
            shape.claims, shape: "shards: 3, \(shape.claims) claims, \(shape.users) users, stock \(shape.stock)", label: label)
        let granted = result.outcomes.filter { $0.outcome.status == 201 }
        let codes = granted.compactMap(\.outcome.code)
        #expect(granted.count == shape.stock)
        #expect(Set(codes).count == codes.count, "every 201 a distinct code")
        var perUser: [String: Int] = [:]
        for item in granted { perUser[item.outcome.userId, default: 0] += 1 }
        #expect((perUser.values.max() ?? 0) <= 2, "nobody above the limit")
        #expect(Set(result.outcomes.filter { $0.outcome.status == 409 }.compactMap(\.outcome.code)).isSubset(of: ["sold_out", "limit_reached"]))
        // Refused while stock remained elsewhere: a sold_out answered before the last grant.
        let lastGrant = granted.map(\.at).max() ?? 0
        let early = result.outcomes.filter { $0.outcome.code == "sold_out" && $0.at < lastGrant }
        let window = early.map(\.at).min().map { lastGrant - $0 } ?? 0
        print("[\(label)] sold_out before the last grant: \(early.count) (window \(String(format: "%.3f", window)) s)")

        let node = nodes[0]
        #expect(try node.waitForFlush(campaignId: campaign, expected: shape.stock, seconds: 60), "flushed")
        let stored = try node.storedCoupons(campaign)
        #expect(stored.count == shape.stock, "exactly the stock in PostgreSQL")
        let storedCodes = Set(stored.map(\.code))
        #expect(storedCodes.subtracting(codes).isEmpty, "stored without a 201")
        #expect(Set(codes).subtracting(storedCodes).isEmpty, "a 201 not stored")
        #expect(try node.issuedEventCount(campaign) == shape.stock)

        // Every shard drained, nothing in transit, conservation per campaign.
        let figures = try shardFigures()
        let transfers = figures.reduce(0) { $0 + $1[3] }
        print("[\(label)] per shard [remaining, issued, allocation, xin, xout, open]: \(figures); transfers credited: \(try transfersCredited()) (\(String(format: "%.2f", Double(try transfersCredited()) * 1000 / Double(shape.claims))) per 1,000 claims), units moved \(transfers)")
        #expect(figures.allSatisfy { $0[0] == 0 }, "remaining 0 on every shard")
        #expect(figures.allSatisfy { $0[5] == 0 }, "no open transfer")
        #expect(figures.reduce(0) { $0 + $1[2] } == Int64(shape.stock), "Σ allocation = stock_total")
        #expect(figures.reduce(0) { $0 + $1[1] } == Int64(shape.stock), "Σ issued = stock_total")
        #expect(figures.reduce(0) { $0 + $1[3] } == figures.reduce(0) { $0 + $1[4] }, "in transit 0")
        for (shard, values) in figures.enumerated() {
            #expect(values[2] + values[3] - values[4] == values[0] + values[1], "shard \(shard) conserves")
        }
        // Per-user counts live on the home shard only, and equal the answers.
        let redis = try cluster.client()
        var counted: [String: Int] = [:]
        for (shard, keys) in shards.enumerated() {
            let items = try redis.command(["HGETALL", .string(keys.users)]).array ?? []
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                let user = items[index].string ?? ""
                #expect(CampaignShards.homeShard(userId: user, count: shards.count) == shard)
                counted[user] = items[index + 1].string.flatMap(Int.init) ?? 0
            }
        }
        #expect(counted.filter { perUser[$0.key] != $0.value }.isEmpty, "Redis per user = answers per user")
        // The reconciliation sees one campaign and its checks pass.
        let from = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000).prefix(10)
        let to = RFC3339.format(epochMs: Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000).prefix(10)
        let response = try node.request("GET", "/v1/reports/reconciliation?from=\(from)&to=\(to)&campaign_id=\(campaign)", as: .finance)
        #expect(response.status == 200)
        let report = try JSONParser.parse(response.body)
        #expect(report["checks"]?["passed"] == .bool(true), "\(String(decoding: response.body, as: UTF8.self).prefix(3000))")
        let stats = try JSONParser.parse(try node.request("GET", "/v1/campaigns/\(campaign)/stats", as: .finance).body)
        #expect(stats["remaining"]?.int64Value == 0 && stats["issued"]?.int64Value == Int64(shape.stock) && stats["flushed"]?.int64Value == Int64(shape.stock))
        #expect(stats["claims"]?["granted"]?.int64Value == Int64(shape.stock))
    }

    func transfersCredited() throws -> Int64 {
        let redis = try cluster.client()
        return try shards.reduce(0) { $0 + (try redis.command(["HLEN", .string($1.transfersIn)]).int ?? 0) }
    }
}
