import Foundation
import Testing
import TestSupport
@testable import RedisClient

/// `BlockingRedisConnection.stream` on a real cluster (3 masters + 3 replicas): groups for one
/// master stream on its connection, a group for another master or spanning masters switches in
/// order, and a slot moved behind the router's back comes back as `MOVED` in its slot (nothing
/// resent) with the map reloaded, so the next stream goes to the slot's new master.
@Suite(.serialized) struct ClusterStreamTests {
    /// A key of a slot owned by each master, in the map's master order.
    static func keysOnEachMaster(_ map: ClusterSlotMap, tag: String) -> [String] {
        map.masters.map { master in
            (0...).lazy.map { "cp:{stream-\(tag)-\($0)}:n" }.first { map.owner(ofSlot: RedisClusterSlot.slot(forKey: $0)) == master }!
        }
    }

    @Test func groupsStreamPerMasterInOrderAndSwitchMasters() throws {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let redis = try cluster.client()
        let keys = Self.keysOnEachMaster(try cluster.slotMap(), tag: UUID().uuidString.prefix(6).lowercased())
        #expect(keys.count == 3)
        // 30 INCRs on the first master's key, then a group spanning masters, a SCRIPT LOAD (every
        // master), 20 on the second's, 10 alternating with the third's.
        var groups: [[[RedisArgument]]] = (0..<30).map { _ in [["INCR", .string(keys[0])]] }
        groups.append([["INCR", .string(keys[1])], ["INCR", .string(keys[2])]])
        groups.append([["SCRIPT", "LOAD", "return 1"]])
        groups += (0..<20).map { _ in [["INCR", .string(keys[1])]] }
        groups += (0..<10).map { n in [["INCR", .string(keys[n % 2 == 0 ? 0 : 2])]] }
        var index = 0
        var answers: [[Int64]] = []
        try redis.stream(
            window: 4,
            next: {
                guard index < groups.count else { return nil }
                index += 1
                return groups[index - 1]
            },
            replies: { results in answers.append(try results.map { try $0.get().int ?? -1 }) })
        #expect(answers.count == groups.count)
        #expect(answers[0..<30].map { $0[0] } == Array(1...30))
        #expect(answers[30] == [1, 1])
        #expect(answers[32..<52].map { $0[0] } == Array(2...21))
        #expect(answers[52...].map { $0[0] } == [31, 2, 32, 3, 33, 4, 34, 5, 35, 6])
        #expect(try keys.map { try redis.command(["GET", .string($0)]).string } == ["35", "21", "6"])
    }

    @Test func aMovedSlotComesBackAsMovedAndTheNextStreamFindsIt() throws {
        let cluster = try RedisCluster.shared()
        try cluster.flushAll()
        let redis = try cluster.client()
        let map = try cluster.slotMap()
        let key = Self.keysOnEachMaster(map, tag: UUID().uuidString.prefix(6).lowercased())[0]
        let slot = RedisClusterSlot.slot(forKey: key)
        let source = try #require(map.owner(ofSlot: slot))
        let target = try #require(map.masters.first { $0 != source })
        try redis.command(["SET", .string(key), "1"])  // the router's map is loaded and says `source`
        #expect(try cluster.migrate(slot: slot, to: target) == 1)
        defer { _ = try? cluster.migrate(slot: slot, to: source) }

        var replies: [Result<RESPValue, RedisError>] = []
        var sent = 0
        try redis.stream(
            window: 2, next: { sent < 3 ? { sent += 1; return [["INCR", .string(key)]] }() : nil },
            replies: { replies += $0 })
        #expect(replies.count == 3)
        for reply in replies {
            guard case .failure(.server(let error)) = reply else { Issue.record("expected MOVED, got \(reply)"); continue }
            #expect(error.prefix == .moved)
        }
        #expect(try redis.command(["GET", .string(key)]).string == "1")  // nothing was resent
        sent = 0
        replies = []
        try redis.stream(
            window: 2, next: { sent < 3 ? { sent += 1; return [["INCR", .string(key)]] }() : nil },
            replies: { replies += $0 })
        #expect(try replies.map { try $0.get().int } == [2, 3, 4])
    }
}
