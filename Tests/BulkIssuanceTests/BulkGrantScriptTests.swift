import CouponCore
import Foundation
import Issuance
import RedisClient
import ServiceTestSupport
import Testing
import TestSupport

@testable import BulkIssuance

/// The bulk script (`BulkGrantScript`: request records and user counts read ahead, many lines per
/// call) decides exactly as the claim scripts do: the same lines through `ClaimBatchScript` on a
/// twin campaign give the same outcome per line and leave the same counts in Redis; a re-run
/// batch grants nothing twice.
@Suite(.serialized) struct BulkGrantScriptTests {
    @Test func bulkLinesAreDecidedAsClaimsAre() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let bulkCampaign = try node.createCampaign(stock: 12, perUserLimit: 2)
        let claimCampaign = try node.createCampaign(stock: 12, perUserLimit: 2)
        for campaign in [bulkCampaign, claimCampaign] {  // p1 holds one coupon before the job
            #expect(try node.claim(campaignId: campaign, userId: "p1", requestId: "before-\(campaign)").status == 201)
        }
        let users = ["p1", "p1", "a", "b", "a", "a", "c", "d", "e", "b", "f", "g", "h", "i", "j", "k", "l", "m"]
        let lines = users.enumerated().map { (line: Int64($0.offset + 1), userId: $0.element) }
        let redis = try node.redisClient()
        let codes = CouponCodeGenerator()

        // 5 lines per call: duplicates of a user fall in one call and across calls.
        let outcome = try BulkGrantBatch.run(jobId: 77, campaignId: bulkCampaign, lines: lines, codes: codes, linesPerCall: 5, on: redis)
        var bulk = [String](repeating: "", count: lines.count)
        for grant in outcome.granted { bulk[Int(grant.requestId.split(separator: "-").last!)! - 1] = "granted" }
        for refusal in outcome.refusals { bulk[Int(refusal.line) - 1] = refusal.reason }

        var claims: [String] = []
        let claimKeys = ClaimScript.keys(CampaignKeys(campaignId: claimCampaign))
        for start in stride(from: 0, to: lines.count, by: 5) {
            let chunk = lines[start..<min(start + 5, lines.count)]
            let args = ClaimBatchScript.arguments(
                chunk.map { (userId: $0.userId, requestId: BulkGrantBatch.requestId(jobId: 77, line: $0.line), code: codes.code(), tags: [], channel: "bulk") })
            let replies = try redis.evalScript(ClaimBatchScript.script, keys: claimKeys, args: args).array ?? []
            for (line, reply) in zip(chunk, replies) {
                let decision = ClaimDecision(reply: reply, campaignId: claimCampaign, userId: line.userId, requestId: "")
                claims.append(decision?.outcome ?? "unparsed \(reply)")
            }
        }

        #expect(bulk == claims)
        #expect(bulk.filter { $0 == "granted" }.count == 11)
        #expect(bulk.enumerated().filter { $0.element == "limit_reached" }.map(\.offset) == [1, 5])
        #expect(bulk.filter { $0 == "sold_out" }.count == 5)
        func state(_ campaign: Int64) throws -> [String] {
            let keys = CampaignKeys(campaignId: campaign)
            let counts = try redis.command(["HGETALL", .string(keys.users)]).array?.compactMap(\.string) ?? []
            let pairs = stride(from: 0, to: counts.count, by: 2).map { "\(counts[$0])=\(counts[$0 + 1])" }.sorted()
            let meta = try ["issued", "out:granted", "out:limit_reached", "out:sold_out"].map {
                try redis.command(["HGET", .string(keys.meta), .string($0)]).string ?? "-"
            }
            return pairs + meta + [try redis.command(["GET", .string(keys.stock)]).string ?? "-", String(try streamLength(keys))]
        }
        func streamLength(_ keys: CampaignKeys) throws -> Int64 { try redis.command(["XLEN", .string(keys.grants)]).int ?? -1 }
        let bulkState = try state(bulkCampaign)
        #expect(bulkState == (try state(claimCampaign)))
        #expect(bulkState.contains("a=2") && bulkState.contains("p1=2") && bulkState.contains("h=1"))
        // The hints: the campaign in the flushers' dirty set, and no wallet-index entry for a bulk
        // grant ("a" has none; p1's index holds its two HTTP claims only).
        #expect(try redis.command(["EXISTS", .string(GrantHints.userIndex(of: "a"))]).int == 0)
        #expect(try redis.command(["ZCARD", .string(GrantHints.userIndex(of: "p1"))]).int == 2)
        #expect(try redis.command(["SISMEMBER", .string(GrantHints.dirtyCampaigns), .string(String(bulkCampaign))]).int == 1)

        // The batch re-run (a takeover after a crash): the same grants, no new one, the same refusals.
        let again = try BulkGrantBatch.run(jobId: 77, campaignId: bulkCampaign, lines: lines, codes: codes, linesPerCall: 7, on: redis)
        #expect(again.granted == outcome.granted)
        #expect(again.refusals.map(\.line) == outcome.refusals.map(\.line))
        #expect(again.refusals.map(\.reason) == outcome.refusals.map(\.reason))
        let keys = CampaignKeys(campaignId: bulkCampaign)
        #expect(try redis.command(["HGET", .string(keys.meta), "issued"]).string == "12")
        #expect(try redis.command(["GET", .string(keys.stock)]).string == "0")
        #expect(try streamLength(keys) == 12)
    }
}
