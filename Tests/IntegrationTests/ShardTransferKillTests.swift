import CouponCore
import Foundation
import HTTPServer
import Issuance
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// Issue 10 §1: a node dies between a stock transfer's debit and its credit, 20 times at
/// random points of a sale (`make chaos`: `COUPOND_CLUSTER_FULL=1`). The dying node is the
/// real `coupond` binary with `--fault-exit-after-transfer-debit 100` (it `_exit`s right after
/// every debit it makes, before the credit: a SIGKILL at exactly that point); a healthy
/// in-process node keeps selling and its flusher's recovery sweep completes the half-done
/// transfers. After recovery: nothing in transit, stock conserved on every shard and in total,
/// never more granted than the stock, every acknowledged grant in PostgreSQL once, and the
/// sale still ends with remaining 0 everywhere.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["COUPOND_CLUSTER_FULL"] == "1"))
struct ShardTransferKillTests {
    @Test func aNodeDiesBetweenDebitAndCreditTwentyTimes() throws {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        var fast = TestNode.fastFlusher
        fast.transferRecoverySeconds = 0.2
        fast.transferGraceMilliseconds = 500
        let healthy = try TestNode.start(cluster: cluster, flusherOptions: fast)
        defer { healthy.stop() }
        let stock = 4_000, shardCount = 8
        let campaign = try healthy.createCampaign(stock: Int64(stock), perUserLimit: 2, extra: #","shards":\#(shardCount)"#)
        let shards = CampaignShards.keys(campaignId: campaign, count: shardCount)
        // Eight shards of 500: the dying node serves claimants of shard 0 only; once shard 0 is dry
        // its next claim starts a transfer (half of the richest other shard) and the node dies
        // after the debit. The healthy node
        // sells a random number of units of shards 1 and 2 first (a random point of the sale).
        let ids = (0..<60_000).map { "u\($0)" }
        let onZero = Array(ids.filter { CampaignShards.homeShard(userId: $0, count: shardCount) == 0 }.prefix(4_000))
        let others = Array(ids.filter { CampaignShards.homeShard(userId: $0, count: shardCount) != 0 }.prefix(4_000))
        let seeds = cluster.seeds.map(\.description).joined(separator: ",")

        let granted = Locked<[String: String]>([:])  // request id → code
        let answered = Locked(0)
        let next = Locked(0)
        // Claims the dying node took with it: retried with the same request id at the end (a
        // replay returns the grant if Redis made one); retried at once they would make the
        // healthy node run the transfer instead.
        let unanswered = Locked<[(user: String, request: String)]>([])
        @Sendable func claim(_ client: BlockingHTTPClient, _ users: [String], index given: Int? = nil, user fixed: String? = nil) {
            let index = given ?? next.withLock { value -> Int in defer { value += 1 }; return value }
            let user = fixed ?? users[index % users.count], request = "r\(index)"
            let outcome = try? healthy.timedClaim(campaignId: campaign, userId: user, requestId: request, on: client)
            guard let outcome, outcome.status < 500 else { return unanswered.withLock { $0.append((user, request)) } }
            answered.withLock { $0 += 1 }
            if outcome.status == 201, let code = outcome.code {
                granted.withLock { known in
                    #expect(known[request] == nil || known[request] == code)
                    known[request] = code
                }
            }
        }

        var kills = 0
        var rng = SystemRandomNumberGenerator()
        for round in 0..<30 where kills < 20 {
            let dying = try NodeProcess.start(
                settings: [
                    "REDIS_CLUSTER": seeds, "FAULT_EXIT_AFTER_TRANSFER_DEBIT": "100", "TRANSFER_RECOVERY_GRACE_MS": "500",
                    "SOLD_OUT_MARK_MS": "0",
                ], redis: cluster.servers[0], database: healthy.conninfo)
            let lead = Int.random(in: 0..<40, using: &rng)
            let client = healthy.client(timeoutSeconds: 15)
            for _ in 0..<lead { claim(client, others) }
            client.close()
            let port = dying.port
            let started = Date()
            _ = ConcurrentRun.run(threads: 4, timeoutSeconds: 60) { _ in
                let client = BlockingHTTPClient(host: "127.0.0.1", port: port, timeoutSeconds: 15)
                defer { client.close() }
                while dying.isRunning && Date().timeIntervalSince(started) < 10 { claim(client, onZero) }
            }
            let died = TestEnvironment.waitUntil(seconds: 1, interval: 0.01) { !dying.isRunning }
            if died { kills += 1 } else { _ = dying.stop(signal: SIGKILL) }
            print("[shard-kill] round \(round): \(died ? "died after a debit" : "no transfer this round") after \(lead) healthy claims, granted so far \(granted.current.count)")
        }
        // The answers the dying nodes took with them, then the rest of the sale through the
        // healthy node (every claimant), then the recovery sweep finishes.
        let client = healthy.client(timeoutSeconds: 15)
        defer { client.close() }
        let lost = unanswered.withLock { list -> [(user: String, request: String)] in defer { list = [] }; return list }
        for item in lost { claim(client, [], index: Int(item.request.dropFirst())!, user: item.user) }
        #expect(unanswered.current.isEmpty)
        var idle = 0
        while idle < 400 && next.current < 400_000 {
            let before = granted.current.count
            claim(client, onZero + others)
            idle = granted.current.count == before ? idle + 1 : 0
        }
        let redis = try cluster.client()
        func figures() throws -> [[Int64]] {
            try shards.map { keys in
                let meta = try redis.command(
                    ["HMGET", .string(keys.meta), .string(CampaignMeta.issued), .string(CampaignMeta.stockTotal),
                     .string(CampaignMeta.transferredIn), .string(CampaignMeta.transferredOut)]
                ).array ?? []
                let remaining = try redis.command(["GET", .string(keys.stock)]).string.flatMap(Int64.init) ?? -1
                let open = try redis.command(["HLEN", .string(keys.transfersOut)]).int ?? -1
                return [remaining] + meta.map { $0.string.flatMap(Int64.init) ?? 0 } + [open]
            }
        }
        let recovered = TestEnvironment.waitUntil(seconds: 10, interval: 0.1) { (try? figures().allSatisfy { $0[5] == 0 }) == true }
        // Claims after recovery sell what the recovery put back.
        idle = 0
        while idle < 400 && next.current < 400_000 {
            let before = granted.current.count
            claim(client, onZero + others)
            idle = granted.current.count == before ? idle + 1 : 0
        }
        let final = try figures()
        let codes = Array(granted.current.values)
        print("[shard-kill] kills \(kills), claims \(answered.current), granted \(codes.count), per shard [remaining, issued, allocation, xin, xout, open]: \(final)")
        #expect(kills == 20)
        #expect(recovered, "every half-done transfer completed")
        #expect(Set(codes).count == codes.count)
        #expect(codes.count == stock, "never above the stock, and the sale still sells it all")
        #expect(final.allSatisfy { $0[0] == 0 && $0[5] == 0 }, "remaining 0 and nothing open on every shard")
        #expect(final.reduce(0) { $0 + $1[1] } == Int64(stock))
        #expect(final.reduce(0) { $0 + $1[3] } == final.reduce(0) { $0 + $1[4] }, "in transit 0")
        for (shard, values) in final.enumerated() {
            #expect(values[2] + values[3] - values[4] == values[0] + values[1], "shard \(shard) conserves")
        }
        #expect(try healthy.waitForFlush(campaignId: campaign, expected: stock, seconds: 60))
        #expect(Set(try healthy.storedCoupons(campaign).map(\.code)) == Set(codes), "every acknowledged grant in PostgreSQL once")
    }
}
