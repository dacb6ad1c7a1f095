import Foundation
import CouponService
import Issuance
import GrantFlusher
import RedisClient
import Testing

@testable import GrantFlusher
import ServiceTestSupport

extension ClaimPathTests {
    /// Issue 8: the flusher's sweep deletes consumers of dead nodes once they have nothing
    /// pending and have been idle past the setting, never one that still holds entries; and
    /// finds entries whose dirty hint was lost.
    @Suite struct FlusherConsumers {
        static func consumers(_ node: TestNode, _ campaign: Int64) throws -> [String: Int64] {
            let reply = try node.redisClient().command(["XINFO", "CONSUMERS", .string(node.keys(campaign).grants), .string(CampaignKeys.flusherGroup)])
            var result: [String: Int64] = [:]
            for consumer in reply.array ?? [] {
                let fields = consumer.array ?? []
                var name: String?, pending: Int64?
                for index in stride(from: 0, to: fields.count - 1, by: 2) {
                    if fields[index].string == "name" { name = fields[index + 1].string }
                    if fields[index].string == "pending" { pending = fields[index + 1].int }
                }
                if let name, let pending { result[name] = pending }
            }
            return result
        }

        @Test func staleConsumersAreDeletedOnlyWhenTheirPendingListIsEmpty() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 1_000, perUserLimit: 1)
            _ = try FlusherCrash.claim(node, campaign: campaign, count: 30, prefix: "a")
            // "gone-1" flushes everything and goes away; "gone-2" dies after COMMIT holding 10 entries.
            let gone = FlusherCrash.flusher(node, consumer: "gone-1", FlusherCrash.options())
            #expect(try FlusherCrash.drive(gone) { try node.storedCoupons(campaign).count == 30 })
            _ = try FlusherCrash.claim(node, campaign: campaign, count: 10, prefix: "b")
            let dying = FlusherCrash.flusher(node, consumer: "gone-2", FlusherCrash.options(crash: true))
            #expect(throws: SimulatedCrash.self) { try dying.runOnce() }
            #expect(try Self.consumers(node, campaign) == ["gone-1": 0, "gone-2": 10])

            Thread.sleep(forTimeInterval: 0.3)
            var options = FlusherCrash.options()  // takeover after 10 minutes: gone-2 keeps its entries
            options.staleConsumerMilliseconds = 200
            let live = FlusherCrash.flusher(node, consumer: "live", options)
            try live.runOnce()
            #expect(try Self.consumers(node, campaign) == ["gone-2": 10])
            #expect(live.metrics.consumersRemoved.load(ordering: .relaxed) == 1)

            // With a short takeover idle time the entries move to "live"; then gone-2 goes too.
            options.claimIdleMilliseconds = 100
            let taker = FlusherCrash.flusher(node, consumer: "live", options)
            #expect(try FlusherCrash.drive(taker, seconds: 5) { try Self.consumers(node, campaign)["gone-2"] == nil })
            #expect(try node.pendingCount(campaign) == 0)
            #expect(try node.storedCoupons(campaign).count == 40)
            #expect(try node.issuedEventCount(campaign) == 40)
        }

        /// Issue 15: the flusher thread runs at a lower priority (nice 10) than the claim loops,
        /// and still flushes.
        @Test func flusherThreadRunsNiceAndStillFlushes() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
            _ = try FlusherCrash.claim(node, campaign: campaign, count: 5, prefix: "n")
            let flusher = FlusherCrash.flusher(node, consumer: "nice", FlusherCrash.options())
            flusher.start()
            defer { flusher.stop() }
            var niceValues: [Int] = []
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                niceValues = []
                for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
                    guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                        comm.trimmingCharacters(in: .whitespacesAndNewlines) == "flusher",
                        let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                        let close = stat.lastIndex(of: ")")
                    else { continue }
                    // Fields after "(comm)": state is field 3, nice field 19.
                    let fields = stat[stat.index(after: close)...].split(separator: " ")
                    if fields.count > 16, let nice = Int(fields[16]) { niceValues.append(nice) }
                }
                if try niceValues == [10] && node.storedCoupons(campaign).count == 5 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(niceValues == [10])
            #expect(try node.storedCoupons(campaign).count == 5)
        }

        /// A grant whose dirty hint was lost (SPOP'd by nobody, deleted here) is flushed by the sweep.
        @Test func sweepFindsEntriesWithoutAHint() throws {
            let node = try TestNode.start(flusher: false)
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
            _ = try FlusherCrash.claim(node, campaign: campaign, count: 5, prefix: "h")
            #expect(try node.redisClient().command(["DEL", .string(GrantHints.dirtyCampaigns)]).int == 1)
            var options = FlusherCrash.options()
            options.sweepSeconds = 3_600  // one slice now, the next in an hour
            options.sweepSliceSeconds = 3_600
            let flusher = FlusherCrash.flusher(node, consumer: "sweeper", options)
            #expect(try FlusherCrash.drive(flusher, seconds: 5) { try node.storedCoupons(campaign).count == 5 })
            // New grants with their hint are flushed without waiting for the sweep.
            _ = try FlusherCrash.claim(node, campaign: campaign, count: 3, prefix: "k")
            #expect(try FlusherCrash.drive(flusher, seconds: 5) { try node.storedCoupons(campaign).count == 8 })
        }
    }
}

extension ClaimPathTests.FlusherConsumers {
    /// A stream that vanished under a running flusher (its group with it) is recreated on NOGROUP.
    @Test func vanishedStreamGroupIsRecreated() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 100, perUserLimit: 1)
        _ = try ClaimPathTests.FlusherCrash.claim(node, campaign: campaign, count: 3, prefix: "v")
        var options = ClaimPathTests.FlusherCrash.options()
        options.sweepSeconds = 3_600  // no sweep after the first: the read itself must heal
        options.sweepSliceSeconds = 3_600
        let flusher = ClaimPathTests.FlusherCrash.flusher(node, consumer: "steady", options)
        #expect(try ClaimPathTests.FlusherCrash.drive(flusher, seconds: 5) { try node.storedCoupons(campaign).count == 3 })
        #expect(try node.redisClient().command(["DEL", .string(node.keys(campaign).grants)]).int == 1)
        _ = try ClaimPathTests.FlusherCrash.claim(node, campaign: campaign, count: 2, prefix: "w")
        #expect(try ClaimPathTests.FlusherCrash.drive(flusher, seconds: 5) { try node.storedCoupons(campaign).count == 5 })
        #expect(flusher.metrics.errors.load(ordering: .relaxed) == 0)
    }
}

@Suite struct SweepCursorTests {
    @Test func slicesCoverEveryStreamOncePerSweep() {
        #expect(SweepCursor.sliceSize(count: 10_001, sliceSeconds: 1, sweepSeconds: 30) == 334)
        #expect(SweepCursor.sliceSize(count: 3, sliceSeconds: 1, sweepSeconds: 30) == 1)
        #expect(SweepCursor.sliceSize(count: 3, sliceSeconds: 1, sweepSeconds: 0) == 3)
        #expect(SweepCursor.sliceSize(count: 0, sliceSeconds: 1, sweepSeconds: 30) == 0)

        var cursor = SweepCursor()
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(cursor.atStart)
        #expect(cursor.isDue(now: start, sliceSeconds: 1, sweepSeconds: 2))
        cursor.begin(["c", "a", "b"])
        #expect(cursor.nextSlice(now: start, sliceSeconds: 1, sweepSeconds: 2) == ["a", "b"])
        #expect(!cursor.isDue(now: start.addingTimeInterval(0.5), sliceSeconds: 1, sweepSeconds: 2))
        #expect(cursor.isDue(now: start.addingTimeInterval(1), sliceSeconds: 1, sweepSeconds: 2))
        #expect(!cursor.atStart)
        #expect(cursor.nextSlice(now: start.addingTimeInterval(1), sliceSeconds: 1, sweepSeconds: 2) == ["c"])
        #expect(cursor.atStart)
    }
}

@Suite struct GrantHintsTests {
    @Test func indexMemberRoundTrips() {
        let grant = Grant(
            code: "4XG7CFWWSGV8YQ9M", campaignId: 42, userId: "alice", requestId: "r-1", issuedAtMs: 1_700_000_000_123,
            validFromMs: 1_700_000_000_000, validUntilMs: 1_700_604_800_000, streamId: "1700000000123-0")
        let commands = GrantHints.indexCommands(grant)
        #expect(commands.count == 2)
        #expect(GrantHints.userIndex(of: "alice") == "cp:{u:alice}:grants")
        let member = "42|4XG7CFWWSGV8YQ9M|1700000000123|1700000000000|1700604800000|1700000000123-0|r-1"
        #expect(commands[0] == ["ZADD", "cp:{u:alice}:grants", .int(1_700_000_000_123), .string(member)])
        #expect(GrantHints.grant(member: member, userId: "alice") == grant)
        #expect(GrantHints.grant(member: "x|" + member.split(separator: "|", maxSplits: 1)[1], userId: "alice") == nil)
        #expect(GrantHints.grant(member: "42|code|1|2|3|4-0", userId: "alice") == nil)  // the per-campaign list's 5-field form
        #expect(GrantHints.markDirtyCommand([3, 7]) == ["SADD", "cp:dirty", "3", "7"])
    }
}

@Suite struct FlusherSettingsTests {
    @Test func flagsAndEnvironmentSetTheFlusherOptions() throws {
        let (configuration, rest) = try Configuration.parse(
            arguments: ["--flusher-takeover-idle-ms", "5000", "--flusher-sweep-seconds=12"],
            environment: ["COUPOND_FLUSHER_STALE_CONSUMER_SECONDS": "90", "COUPOND_FLUSHER_SWEEP_SECONDS": "99"])
        #expect(rest.isEmpty)
        let options = configuration.flusherOptions
        #expect(options.claimIdleMilliseconds == 5_000)
        #expect(options.sweepSeconds == 12.0)  // the flag wins over the environment
        #expect(options.staleConsumerMilliseconds == 90_000)
        let defaults = Configuration().flusherOptions
        #expect(defaults.claimIdleMilliseconds == 30_000)
        #expect(defaults.sweepSeconds == 30.0)
        #expect(defaults.staleConsumerMilliseconds == 600_000)
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--flusher-takeover-idle-ms", "0"], environment: [:]) }
    }
}
