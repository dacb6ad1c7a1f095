import CouponCore
import Foundation
import Issuance
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Issue 9 §2 must-shows on a real Redis Cluster (3 masters + 3 replicas, AOF always): two
/// nodes, 64 connections, three campaigns whose slots sit on three different masters. In
/// `make test` the workload keeps its shape at a smaller size; `make chaos` sets
/// `COUPOND_CLUSTER_FULL=1` for the full 50,000 claims from 10,000 users, stock 5,000 each.
@Suite(.serialized) struct ClusterLoadTests {
    struct Shape: CustomStringConvertible {
        let claims: Int, users: Int, stock: Int
        static var current: Shape {
            ProcessInfo.processInfo.environment["COUPOND_CLUSTER_FULL"] == "1"
                ? Shape(claims: 50_000, users: 10_000, stock: 5_000) : Shape(claims: 9_000, users: 1_800, stock: 900)
        }
        var description: String { "\(claims) claims, \(users) users, stock \(stock) × 3" }
    }

    /// Exactly the stock of each campaign is granted and lands in PostgreSQL once; nobody holds
    /// more than 2 of a campaign; every flusher-visible stream is drained on every master.
    @Test func threeCampaignsOnThreeMastersFromTwoNodes() throws {
        let run = try ClusterRun.start(Shape.current)
        defer { run.stop() }
        let result = run.load()
        try run.verify(result, label: "cluster")
    }

    /// The same while the first campaign's slot moves to another master mid-load
    /// (`SETSLOT IMPORTING/MIGRATING`, `MIGRATE ... KEYS`, `SETSLOT NODE` on every master):
    /// claims see `ASK` / `TRYAGAIN` during the move and `MOVED` after; no grant is doubled or
    /// lost and nobody gets a 5xx.
    @Test func aHotSlotMigratesMidLoad() throws {
        let run = try ClusterRun.start(Shape.current)
        defer { run.stop() }
        let migration = try MidLoadMigration(
            run.cluster, slot: RedisClusterSlot.slot(forKey: CampaignKeys(campaignId: run.campaigns[0]).tag),
            toOwnerOf: RedisClusterSlot.slot(forKey: CampaignKeys(campaignId: run.campaigns[1]).tag), batch: 100)
        let result = run.load(whenOneThirdDone: { migration.run() })
        try migration.check(nodes: run.nodes, label: "cluster-migrate")
        try run.verify(result, label: "cluster-migrate")
    }
}

/// Two nodes on the shared cluster with three campaigns on three masters.
final class ClusterRun: @unchecked Sendable {  // immutable after start
    let cluster: RedisCluster
    let nodes: [TestNode]
    let campaigns: [Int64]
    let shape: ClusterLoadTests.Shape

    static func start(_ shape: ClusterLoadTests.Shape) throws -> ClusterRun {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let nodeA = try TestNode.start(cluster: cluster)
        let nodeB = try TestNode.start(cluster: cluster, conninfo: nodeA.conninfo)
        // Campaign ids are sequential: keep creating until three sit on three different masters.
        let map = try cluster.slotMap()
        var byMaster: [RedisEndpoint: Int64] = [:]
        var created = 0
        while byMaster.count < 3 && created < 50 {
            let id = try nodeA.createCampaign(stock: Int64(shape.stock), perUserLimit: 2)
            created += 1
            let owner = map.owner(ofSlot: RedisClusterSlot.slot(forKey: CampaignKeys(campaignId: id).tag))!
            if byMaster[owner] == nil { byMaster[owner] = id }
        }
        let campaigns = byMaster.values.sorted()
        guard campaigns.count == 3 else { throw TestSupportError("no three campaigns on three masters") }
        return ClusterRun(cluster: cluster, nodes: [nodeA, nodeB], campaigns: campaigns, shape: shape)
    }

    private init(cluster: RedisCluster, nodes: [TestNode], campaigns: [Int64], shape: ClusterLoadTests.Shape) {
        self.cluster = cluster
        self.nodes = nodes
        self.campaigns = campaigns
        self.shape = shape
    }

    func stop() { for node in nodes.reversed() { node.stop() } }

    /// 64 connections (alternating nodes) send claim i for campaign i % 3, user (i / 3) % users.
    func load(whenOneThirdDone: (@Sendable () -> Void)? = nil) -> TwoNodeLoad.Result {
        let campaigns = self.campaigns, users = shape.users
        return TwoNodeLoad.run(nodes: nodes, total: shape.claims, trigger: shape.claims / 3, onTrigger: whenOneThirdDone) { index in
            (campaigns[index % 3], "u\((index / 3) % users)")
        }
    }

    func verify(_ result: TwoNodeLoad.Result, label: String) throws {
        let shape = self.shape
        result.expectEveryClaimAnswered(shape.claims, shape: "\(shape)", label: label)
        var allCodes: [String] = []
        for campaign in campaigns {
            let mine = result.outcomes.filter { $0.campaign == campaign }.map(\.outcome)
            let granted = mine.filter { $0.status == 201 }
            let codes = granted.compactMap(\.code)
            #expect(granted.count == shape.stock, "campaign \(campaign)")
            #expect(Set(codes).count == codes.count)
            var perUser: [String: Int] = [:]
            for outcome in granted { perUser[outcome.userId, default: 0] += 1 }
            #expect((perUser.values.max() ?? 0) <= 2)
            #expect(Set(mine.filter { $0.status == 409 }.compactMap(\.code)).isSubset(of: ["sold_out", "limit_reached"]))
            allCodes += codes

            let node = nodes[0]
            #expect(try node.waitForFlush(campaignId: campaign, expected: shape.stock, seconds: 60), "campaign \(campaign) flushed")
            let stored = try node.storedCoupons(campaign)
            #expect(stored.count == shape.stock)
            let storedCodes = Set(stored.map(\.code))
            #expect(storedCodes.subtracting(codes).count == 0, "stored without a 201")
            #expect(Set(codes).subtracting(storedCodes).count == 0, "a 201 not stored")
            var storedPerUser: [String: Int] = [:]
            for row in stored { storedPerUser[row.user, default: 0] += 1 }
            #expect(storedPerUser.filter { perUser[$0.key] != $0.value }.count == 0, "PostgreSQL per user = answers per user")
            // Conservation: stock_total = remaining + issued, in Redis and in PostgreSQL.
            #expect(try node.redisStock(campaign) == 0)
            #expect(try node.redisMeta(campaign, "issued") == String(shape.stock))
            #expect(try node.redisMeta(campaign, "stock_total") == String(shape.stock))
            #expect(try node.redisUserCounts(campaign).filter { perUser[$0.key] != $0.value }.count == 0, "Redis per user = answers per user")
            #expect(try node.issuedEventCount(campaign) == shape.stock)
        }
        #expect(Set(allCodes).count == 3 * shape.stock)
        // The flushers drained every master: nothing pending, nothing undelivered on any campaign's stream.
        let drained = TestEnvironment.waitUntil(seconds: 10, interval: 0.1) {
            campaigns.allSatisfy { campaign in
                (try? self.nodes[0].pendingCount(campaign)) == 0 && (try? self.lag(campaign)) == 0
            }
        }
        #expect(drained, "every stream on every master drained")
    }

    /// Entries of the campaign's stream not yet delivered to group `flushers`.
    func lag(_ campaign: Int64) throws -> Int64 {
        let groups = try cluster.client().command(["XINFO", "GROUPS", .string(CampaignKeys(campaignId: campaign).grants)])
        for group in groups.array ?? [] {
            let fields = group.array ?? []
            for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "lag" {
                return fields[index + 1].int ?? -1
            }
        }
        return -1
    }
}
