import CouponCore
import Foundation
import Glibc
import HTTPServer
import Issuance
import GrantFlusher
import RedisClient
import Store
import Testing

import ServiceTestSupport

/// Issue 8, defect 5: with 10,000 published campaigns the wallet, a redeem of an unknown code
/// and an idle node cost what they cost with one.
@Suite(.serialized) struct ManyCampaignsTests {
    static let extraCampaigns = 10_000

    @Test func costDoesNotGrowWithTheNumberOfCampaigns() throws {
        // Two nodes, each on its own Redis and database: one with 1 campaign, one with 10,001.
        // Shipped flusher settings (not the tests' fast ones); no periodic re-publish during the run.
        let node = try TestNode.start(flusherOptions: Flusher.Options()) {
            $0.campaignSyncSeconds = 3_600
            $0.codeMissRate = .unlimited  // the unknown-code redeems are the measurement, not guessing
        }
        defer { node.stop() }
        try Self.compareWithOneCampaign(node)
        // Idle: the process (node and test harness) over 4 s, and the flusher thread alone.
        Thread.sleep(forTimeInterval: 1)
        let (processBefore, flusherBefore) = (Self.processCPUTicks(), Self.threadCPUTicks(named: "flusher"))
        let seconds = 4.0
        Thread.sleep(forTimeInterval: seconds)
        let (processAfter, flusherAfter) = (Self.processCPUTicks(), Self.threadCPUTicks(named: "flusher"))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let processShare = Double(processAfter - processBefore) / ticks / seconds
        let flusherShare = Double(flusherAfter - flusherBefore) / ticks / seconds
        print(String(format: "FIGURE: idle node with %d campaigns: process %.2f%% of a core, flusher thread %.2f%%",
                     Self.extraCampaigns + 1, processShare * 100, flusherShare * 100))
        #expect(processShare < 0.02)
        #expect(Self.threadCount(named: "flusher") == 1)

        // One full re-publish of every campaign (the campaign-sync timer's work, every 30 s by default).
        let started = Date()
        #expect(node.node.syncCampaignsNow())
        print(String(format: "FIGURE: one campaign sync of %d campaigns took %.0f ms", Self.extraCampaigns + 1, Date().timeIntervalSince(started) * 1000))
    }

    /// Wallet and unknown-code redeem p50 on `node` (which gets 10,000 more campaigns) against a
    /// node with one campaign on its own Redis and database.
    static func compareWithOneCampaign(_ node: TestNode) throws {
        let one = try TestNode.start(flusherOptions: Flusher.Options()) {
            $0.campaignSyncSeconds = 3_600
            $0.codeMissRate = .unlimited  // the unknown-code redeems are the measurement, not guessing
        }
        defer { one.stop() }
        for each in [one, node] {
            let campaign = try each.createCampaign(stock: 1_000, perUserLimit: 5)
            for index in 0..<3 { #expect(try each.claim(campaignId: campaign, userId: "many", requestId: "many-\(index)").status == 201) }
            if each === node {
                #expect(try Self.publishCampaigns(node, like: campaign, count: Self.extraCampaigns) == Self.extraCampaigns)
            }
        }
        #expect(try node.redisClient().command(["SCARD", .string(CampaignKeys.registry)]).int == Int64(Self.extraCampaigns + 1))

        // Rounds alternate between the nodes, so load from elsewhere on the machine hits both alike.
        var fewer = Samples(), more = Samples()
        for _ in 0..<6 {
            try Self.sample(one, into: &fewer)
            try Self.sample(node, into: &more)
        }
        let (walletOne, walletMany) = (Self.median(fewer.wallet), Self.median(more.wallet))
        let (redeemOne, redeemMany) = (Self.median(fewer.redeem), Self.median(more.redeem))
        print(String(format: "FIGURE: wallet p50 %.3f ms with 1 campaign, %.3f ms with %d (ratio %.2f)",
                     walletOne * 1000, walletMany * 1000, Self.extraCampaigns + 1, walletMany / walletOne))
        print(String(format: "FIGURE: unknown-code redeem p50 %.3f ms with 1 campaign, %.3f ms with %d (ratio %.2f)",
                     redeemOne * 1000, redeemMany * 1000, Self.extraCampaigns + 1, redeemMany / redeemOne))
        // 1.5× plus 0.3 ms of slack for a shared 2-core machine; the defect was ~20×.
        #expect(walletMany <= walletOne * 1.5 + 0.000_3)
        #expect(redeemMany <= redeemOne * 1.5 + 0.000_3)
        #expect(fewer.walletCoupons == [3])
        #expect(more.walletCoupons == [3])
    }

    struct Samples {
        var wallet: [Double] = []
        var redeem: [Double] = []
        var walletCoupons: Set<Int> = []
    }

    /// 55 wallet reads and 55 redeems of unknown codes on one keep-alive connection (the first
    /// 5 of each warm up and are not kept).
    static func sample(_ node: TestNode, into samples: inout Samples) throws {
        let client = node.client()
        defer { client.close() }
        for index in 0..<55 {
            let started = Date()
            let response = try node.send(on: client, "GET", "/v1/users/many/coupons", as: .checkout)
            if index >= 5 { samples.wallet.append(Date().timeIntervalSince(started)) }
            #expect(response.status == 200)
            samples.walletCoupons.insert(try JSONParser.parse(response.body)["coupons"]?.arrayValue?.count ?? -1)
        }
        for index in 0..<55 {
            let body = #"{"user_id":"many","order_id":"o-\#(index)","order_amount":25000}"#
            let started = Date()
            let response = try node.send(on: client, "POST", "/v1/coupons/NOSUCHCODE\(index)/redeem", as: .checkout, body: body)
            if index >= 5 { samples.redeem.append(Date().timeIntervalSince(started)) }
            #expect(response.status == 404)
        }
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Inserts `count` copies of campaign `id` in PostgreSQL in one statement, then publishes
    /// them to Redis in pipelines (what the node's publish does, without 10,000 HTTP calls).
    static func publishCampaigns(_ node: TestNode, like id: Int64, count: Int) throws -> Int {
        let postgres = try node.postgres()
        try postgres.execute(
            """
            INSERT INTO campaigns (template_id, name, stock_total, per_user_limit, claim_start, claim_end, validity, required_tags, state)
            SELECT template_id, name || ' ' || n, stock_total, per_user_limit, claim_start, claim_end, validity, required_tags, state
            FROM campaigns, generate_series(1, $2::int) AS n WHERE id = $1
            """, [id, Int64(count)])
        let campaigns = try CampaignStore.published(on: postgres).filter { $0.id != id }
        let redis = try node.redisClient()
        try redis.command(CampaignPublisher.script.loadCommand)
        var published = 0
        for chunk in stride(from: 0, to: campaigns.count, by: 1_000) {
            var commands: [[RedisArgument]] = []
            for campaign in campaigns[chunk..<min(chunk + 1_000, campaigns.count)] {
                let (keys, args) = CampaignPublisher.command(for: campaign, alreadyIssued: 0)
                commands.append(CampaignPublisher.script.evalshaCommand(keys: keys, args: args))
                commands.append(["SADD", .string(CampaignKeys.registry), .string(String(campaign.id))])
            }
            for result in try redis.pipeline(commands) { _ = try result.get() }
            published += commands.count / 2
        }
        return published
    }

    /// utime + stime of this process, in clock ticks.
    static func processCPUTicks() -> Int { cpuTicks(statLine: (try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)) ?? "") }

    /// utime + stime of this process's threads named `name`, in clock ticks.
    static func threadCPUTicks(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.reduce(0) { total, task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == name else { return total }
            return total + cpuTicks(statLine: (try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8)) ?? "")
        }
    }

    static func threadCount(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter {
            ((try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }

    /// Fields 14 and 15 of a `stat` line (after the parenthesised command name).
    static func cpuTicks(statLine: String) -> Int {
        guard let close = statLine.lastIndex(of: ")") else { return 0 }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        return user + system
    }
}
