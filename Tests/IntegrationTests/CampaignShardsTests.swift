import CouponCore
import RedisClient
import Testing

@testable import Issuance

/// The shard layout, home shards, the allocation, the transfer protocol's state machine and
/// the rebalance decision (issue 10 §1), without sockets.
@Suite struct CampaignShardsTests {
    @Test func shardZeroIsTheUnshardedLayoutAndOthersSpreadOverTheSlots() {
        #expect(CampaignShards.tag(campaignId: 42, shard: 0, count: 3) == "{c:42}")
        #expect(CampaignKeys(campaignId: 42, shard: 0, count: 3) == CampaignKeys(campaignId: 42))
        #expect(CampaignShards.keys(campaignId: 42, count: 1) == [CampaignKeys(campaignId: 42)])
        for id: Int64 in [1, 2, 7, 1_000, 123_456_789] {
            for count in [2, 3, 6, 16] {
                let home = RedisClusterSlot.slot(forKey: "{c:\(id)}")
                let width = CampaignShards.windowWidth(count: count)
                var slots = [home]
                for shard in 1..<count {
                    let tag = CampaignShards.tag(campaignId: id, shard: shard, count: count)
                    #expect(tag.hasPrefix("{c:\(id).s\(shard).") && tag.hasSuffix("}"))
                    #expect(CampaignShards.tag(campaignId: id, shard: shard, count: count) == tag)  // deterministic
                    let slot = RedisClusterSlot.slot(forKey: tag)
                    let centre = (home + shard * 16384 / count) % 16384
                    let distance = min((slot - centre + 16384) % 16384, (centre - slot + 16384) % 16384)
                    #expect(distance <= width / 2, "campaign \(id) shard \(shard)/\(count): slot \(slot), centre \(centre)")
                    slots.append(slot)
                }
                #expect(Set(slots).count == count)
                // Every shard's grant stream names the campaign.
                for keys in CampaignShards.keys(campaignId: id, count: count) {
                    #expect(CampaignKeys.campaignId(ofGrantStream: keys.grants) == id)
                }
            }
        }
    }

    @Test func threeShardsLandOnThreeEqualMasterRanges() {
        // A 3-master cluster made by redis-cli owns 0-5460, 5461-10922, 10923-16383.
        func master(_ slot: Int) -> Int { slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2 }
        var spread = 0
        for id: Int64 in 1...300 {
            let masters = Set(CampaignShards.keys(campaignId: id, count: 3).map { master(RedisClusterSlot.slot(forKey: $0.tag)) })
            if masters.count == 3 { spread += 1 }
        }
        // Only a shard 0 within half a window (341 slots) of a range boundary can share a master.
        #expect(spread >= 260, "\(spread) of 300 campaigns on three masters")
    }

    @Test func homeShardIsStableAndSpreadsUsers() {
        #expect(CampaignShards.homeShard(userId: "anyone", count: 1) == 0)
        #expect(CampaignShards.homeShard(userId: "u1", count: 3) == CampaignShards.homeShard(userId: "u1", count: 3))
        #expect(CampaignShards.homeShard(userId: "", count: 3) == Int(0xcbf2_9ce4_8422_2325 as UInt64 % 3))
        var counts = [0, 0, 0]
        for user in 0..<9_000 { counts[CampaignShards.homeShard(userId: "u\(user)", count: 3)] += 1 }
        #expect(counts.allSatisfy { $0 > 2_700 && $0 < 3_300 }, "\(counts)")
    }

    @Test func allocationSplitsStockAndAlreadyIssued() {
        #expect(CampaignShards.allocation(total: 10, issued: 0, count: 3).map(\.total) == [4, 3, 3])
        #expect(CampaignShards.allocation(total: 10, issued: 4, count: 3).map(\.issued) == [2, 1, 1])
        #expect(CampaignShards.allocation(total: 2, issued: 0, count: 3).map(\.total) == [1, 1, 0])
        let skewed = CampaignShards.allocation(total: 5, issued: 5, count: 3)
        #expect(skewed.map(\.total) == [2, 2, 1] && skewed.map(\.issued) == [2, 2, 1])
        #expect(CampaignShards.allocation(total: 7, issued: 3, count: 1).map(\.total) == [7])
    }

    @Test func transferStepsInOrderAndStopSafely() {
        var transfer = StockTransfer(id: "t1", donor: 2, receiver: 0, wanted: 5)
        #expect(transfer.next == .debit(donor: 2, wanted: 5))
        transfer.succeeded(3)  // the donor had 3 left
        #expect(transfer.state == .debited(amount: 3))
        #expect(transfer.next == .credit(receiver: 0, amount: 3))
        transfer.succeeded(0)  // applied before (a recovery got there first): the same outcome
        #expect(transfer.next == .complete(donor: 2))
        transfer.succeeded(1)
        #expect(transfer.moved == 3)
        #expect(transfer.next == .none)

        var empty = StockTransfer(id: "t2", donor: 1, receiver: 0, wanted: 4)
        empty.succeeded(0)
        #expect(empty.moved == 0 && empty.next == .none)

        var lost = StockTransfer(id: "t3", donor: 1, receiver: 2, wanted: 4)
        lost.succeeded(4)
        lost.failed()  // the credit's reply was lost: stop, the record stays for the recovery
        #expect(lost.state == .interrupted(after: .credit(receiver: 2, amount: 4)))
        #expect(lost.next == .none && lost.moved == nil)

        var recovered = StockTransfer.recovered(id: "t3", donor: 1, receiver: 2, amount: 4)
        #expect(recovered.next == .credit(receiver: 2, amount: 4))
        recovered.succeeded(0)
        recovered.succeeded(1)
        #expect(recovered.moved == 4)
        #expect(StockTransfer.parseRecord("4|2|1700000000123")! == (amount: 4, receiver: 2, atMs: 1_700_000_000_123))
        #expect(StockTransfer.parseRecord("4|x|1") == nil)
    }

    @Test func transferCommandsTouchOneShardEach() {
        let shards = CampaignShards.keys(campaignId: 9, count: 3)
        let transfer = StockTransfer(id: "t", donor: 1, receiver: 2, wanted: 8)
        for (step, shard) in [
            (StockTransfer.Step.debit(donor: 1, wanted: 8), 1), (.credit(receiver: 2, amount: 8), 2), (.complete(donor: 1), 1),
        ] {
            let command = transfer.command(step, shards: shards)!
            let slots = Set(command.keys.map { RedisClusterSlot.slot(forKey: $0) })
            #expect(slots == [RedisClusterSlot.slot(forKey: shards[shard].tag)])
        }
        #expect(transfer.command(.none, shards: shards) == nil)
    }

    @Test func rebalancePlansFromTheRichestDonor() {
        #expect(ShardRebalance.plan(receiver: 0, remaining: [0, 5, 9], openTransfers: [0, 0, 0]) == .transfer(donor: 2, amount: 5))
        // Half of the richest, capped at 64 units per waiting claim.
        #expect(ShardRebalance.plan(receiver: 1, remaining: [1_000, 0, 10], openTransfers: [0, 0, 0], waiting: 2) == .transfer(donor: 0, amount: 128))
        #expect(ShardRebalance.plan(receiver: 1, remaining: [1_000, 0, 10], openTransfers: [0, 0, 0], waiting: 50) == .transfer(donor: 0, amount: 500))
        #expect(ShardRebalance.plan(receiver: 1, remaining: [1, 0, 0], openTransfers: [0, 0, 0]) == .transfer(donor: 0, amount: 1))
        #expect(ShardRebalance.plan(receiver: 0, remaining: [0, 0, 0], openTransfers: [0, 1, 0]) == .wait)
        #expect(ShardRebalance.plan(receiver: 0, remaining: [2, 0, 0], openTransfers: [0, 0, 0]) == .wait)  // arrived meanwhile
        #expect(ShardRebalance.plan(receiver: 2, remaining: [0, 0, 0], openTransfers: [0, 0, 0]) == .soldOut)
        #expect(ShardRebalance.plan(receiver: 0, remaining: [0, -1, 0], openTransfers: [0, 0, 0]) == .soldOut)
    }

    @Test func campaignShardsFieldIsValidated() throws {
        let base = #"{"template_id":1,"name":"n","stock":10,"per_user_limit":2,"claim_start":"2026-01-01T00:00:00Z","claim_end":"2026-01-02T00:00:00Z","validity":{"type":"relative","days":3}"#
        let three = try Campaign(json: JSONParser.parse(base + #","shards":3}"#), templateValidity: { _ in nil })
        #expect(three.shards == 3)
        #expect(three.json["shards"]?.int64Value == 3)
        #expect(try Campaign(json: JSONParser.parse(base + "}"), templateValidity: { _ in nil }).shards == 1)
        for bad in ["0", "17", "-1", "\"3\"", "2.5", "99999999999999999999"] {
            #expect(throws: ValidationError.self) { try Campaign(json: JSONParser.parse(base + #","shards":\#(bad)}"#), templateValidity: { _ in nil }) }
        }
    }
}
