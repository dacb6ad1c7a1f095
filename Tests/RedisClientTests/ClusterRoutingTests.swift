import Testing
@testable import RedisClient

/// The redirection state machine, without sockets: each reply a cluster can give, and what the
/// router must do with it.
@Suite struct ClusterRoutingTests {
    let a = RedisEndpoint.tcp("127.0.0.1", 7000)
    let b = RedisEndpoint.tcp("127.0.0.1", 7001)
    let c = RedisEndpoint.tcp("127.0.0.1", 7002)

    /// Three masters splitting the slots as `redis-cli --cluster create` does.
    var threeMasters: ClusterSlotMap {
        ClusterSlotMap(ranges: [(0, 5460, a), (5461, 10922, b), (10923, 16383, c)])
    }

    func error(_ text: String) -> Result<RESPValue, RedisError> { .failure(.server(RedisServerError(message: text))) }

    @Test func routesBySlotOfFirstKey() {
        let map = threeMasters
        let slot = RedisCommandKey.slot(of: ["GET", "foo"])  // 12182
        #expect(slot == 12182)
        #expect(ClusterCommandRouting(slot: slot).target(in: map) == c)
        #expect(ClusterCommandRouting(slot: RedisCommandKey.slot(of: ["GET", "bar"])).target(in: map) == a)  // 5061
        #expect(ClusterCommandRouting(slot: nil).target(in: map) == a)  // keyless: any master (the first)
    }

    @Test func findsTheKeyOfEachCommandShape() {
        #expect(RedisCommandKey.keyIndex(of: ["EVALSHA", "abc", "2", "cp:{c:1}:meta", "cp:{c:1}:stock", "x"]) == 3)
        #expect(RedisCommandKey.keyIndex(of: ["EVALSHA", "abc", "0", "x"]) == nil)
        #expect(RedisCommandKey.keyIndex(of: ["XREADGROUP", "GROUP", "g", "c", "COUNT", 10, "STREAMS", "s", ">"]) == 7)
        #expect(RedisCommandKey.keyIndex(of: ["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"]) == 2)
        #expect(RedisCommandKey.keyIndex(of: ["XINFO", "GROUPS", "s"]) == 2)
        #expect(RedisCommandKey.keyIndex(of: ["SCRIPT", "LOAD", "return 1"]) == nil)
        #expect(RedisCommandKey.keyIndex(of: ["PING"]) == nil)
        #expect(RedisCommandKey.keyIndex(of: ["HINCRBY", "cp:{c:1}:meta", "f", 1]) == 1)
        // A SCAN whose pattern is confined to one hash tag goes to that tag's slot.
        #expect(RedisCommandKey.slot(of: ["SCAN", "0", "MATCH", "cp:{c:42}:u:*", "COUNT", "1000"]) == RedisClusterSlot.slot(forKey: "c:42"))
        #expect(RedisCommandKey.slot(of: ["SCAN", "0", "MATCH", "cp:*"]) == nil)
    }

    @Test func successAndOrdinaryErrorsAreDelivered() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 12182)
        #expect(routing.next(after: .success(.integer(1)), map: &map) == ClusterDecision(.deliver))
        #expect(routing.next(after: error("WRONGTYPE Operation against a key"), map: &map) == ClusterDecision(.deliver))
        #expect(routing.next(after: error("NOSCRIPT No matching script"), map: &map) == ClusterDecision(.deliver))
        #expect(map == threeMasters)
    }

    @Test func movedUpdatesTheMapResendsThereAndRefreshes() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 12182)
        let decision = routing.next(after: error("MOVED 12182 127.0.0.1:7000"), map: &map)
        #expect(decision == ClusterDecision(.resend(node: a, asking: false, afterMs: 0), refreshMap: true))
        #expect(map.owner(ofSlot: 12182) == a)
        #expect(map.owner(ofSlot: 12181) == c)  // only the moved slot changes before the refresh
        #expect(routing.target(in: map) == a)
        #expect(routing.redirects == 1)
    }

    @Test func askResendsOnceWithAskingAndLeavesTheMap() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 12182)
        let decision = routing.next(after: error("ASK 12182 127.0.0.1:7001"), map: &map)
        #expect(decision == ClusterDecision(.resend(node: b, asking: true, afterMs: 0)))
        #expect(map == threeMasters)  // the slot still belongs to its old owner until the migration ends
        // The asked node answers: delivered, whatever it is.
        #expect(routing.next(after: .success(.simpleString("OK")), map: &map) == ClusterDecision(.deliver))
    }

    @Test func tryAgainBacksOffBoundedAndResendsToTheMapsOwner() {
        var map = threeMasters
        let policy = ClusterRetryPolicy(maxRedirects: 5, maxRetries: 4, baseDelayMs: 2, maxDelayMs: 5)
        var routing = ClusterCommandRouting(slot: 12182, policy: policy)
        var delays: [Int] = []
        for _ in 0..<4 {
            let decision = routing.next(after: error("TRYAGAIN Multiple keys request during rehashing of slot"), map: &map)
            guard case .resend(let node, let asking, let afterMs) = decision.step else { Issue.record("not resent"); return }
            #expect(node == nil && asking == false && decision.refreshMap == false)
            delays.append(afterMs)
        }
        #expect(delays == [2, 4, 5, 5])
        // The fifth TRYAGAIN is past the bound: the caller gets it (a 503 it may retry).
        #expect(routing.next(after: error("TRYAGAIN again"), map: &map) == ClusterDecision(.deliver))
    }

    @Test func clusterDownRetriesAndRefreshes() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 0)
        let decision = routing.next(after: error("CLUSTERDOWN The cluster is down"), map: &map)
        #expect(decision == ClusterDecision(.resend(node: nil, asking: false, afterMs: 2), refreshMap: true))
    }

    @Test func aVanishedMasterIsRetriedOnTheRefreshedMapsOwner() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 12182)
        #expect(routing.target(in: map) == c)
        // Nothing was sent: safe to resend, after the map names the new owner.
        let decision = routing.next(after: .failure(.notConnected), map: &map)
        #expect(decision == ClusterDecision(.resend(node: nil, asking: false, afterMs: 2), refreshMap: true))
        #expect(routing.next(after: .failure(.connectFailed("refused")), map: &map).step == .resend(node: nil, asking: false, afterMs: 4))
        // The refresh: a replica of c took over its slots on port 7005.
        let promoted = RedisEndpoint.tcp("127.0.0.1", 7005)
        map = ClusterSlotMap(ranges: [(0, 5460, a), (5461, 10922, b), (10923, 16383, promoted)])
        #expect(routing.target(in: map) == promoted)
    }

    @Test func aCommandThatMayHaveRunIsNeverResent() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 12182)
        #expect(routing.next(after: .failure(.connectionLost), map: &map) == ClusterDecision(.deliver, refreshMap: true))
        #expect(routing.next(after: .failure(.timeout), map: &map) == ClusterDecision(.deliver, refreshMap: true))
    }

    @Test func redirectLoopsAreBounded() {
        var map = threeMasters
        var routing = ClusterCommandRouting(slot: 1, policy: ClusterRetryPolicy(maxRedirects: 2))
        #expect(routing.next(after: error("MOVED 1 127.0.0.1:7001"), map: &map).step == .resend(node: b, asking: false, afterMs: 0))
        #expect(routing.next(after: error("MOVED 1 127.0.0.1:7000"), map: &map).step == .resend(node: a, asking: false, afterMs: 0))
        #expect(routing.next(after: error("MOVED 1 127.0.0.1:7001"), map: &map) == ClusterDecision(.deliver, refreshMap: true))
    }

    /// During a migration a new request cycles ASK → TRYAGAIN: bounded by the retries (with
    /// backoff), not cut short by the redirect bound.
    @Test func aMigrationsAskTryAgainCycleIsBoundedByRetries() {
        var map = threeMasters
        let policy = ClusterRetryPolicy(maxRedirects: 2, maxRetries: 6, baseDelayMs: 1, maxDelayMs: 8)
        var routing = ClusterCommandRouting(slot: 12182, policy: policy)
        var waited = 0
        for _ in 0..<6 {
            #expect(routing.next(after: error("ASK 12182 127.0.0.1:7001"), map: &map).step == .resend(node: b, asking: true, afterMs: 0))
            guard case .resend(nil, false, let afterMs) = routing.next(after: error("TRYAGAIN rehashing"), map: &map).step else {
                Issue.record("TRYAGAIN not retried")
                return
            }
            waited += afterMs
        }
        #expect(waited == 1 + 2 + 4 + 8 + 8 + 8)
        #expect(routing.next(after: error("ASK 12182 127.0.0.1:7001"), map: &map).step == .resend(node: b, asking: true, afterMs: 0))
        #expect(routing.next(after: error("TRYAGAIN rehashing"), map: &map) == ClusterDecision(.deliver))
        #expect(map == threeMasters)
    }

    @Test func aStaleMapIsReplacedByClusterSlots() {
        // CLUSTER SLOTS after a resharding: slots 0-99 moved from a to c, replicas listed after masters.
        let reply = RESPValue.array([
            .array([.integer(0), .integer(99), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7002), .bulkString(Array("id-c".utf8))])]),
            .array([
                .integer(100), .integer(5460), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7000)]),
                .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7003)]),
            ]),
            .array([.integer(5461), .integer(10922), .array([.bulkString([]), .integer(7001)])]),  // empty host: the one asked
            .array([.integer(10923), .integer(16383), .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7002)])]),
        ])
        let fresh = ClusterSlotMap(clusterSlots: reply, answeredBy: .tcp("127.0.0.1", 7001))
        #expect(fresh?.owner(ofSlot: 0) == c)
        #expect(fresh?.owner(ofSlot: 99) == c)
        #expect(fresh?.owner(ofSlot: 100) == a)
        #expect(fresh?.owner(ofSlot: 6000) == b)
        #expect(fresh?.masters == [a, b, c])
        #expect(fresh?.isComplete == true)
        #expect(ClusterSlotMap(clusterSlots: .integer(1), answeredBy: a) == nil)
        // A command routed on the stale map goes to a, the fresh one sends it straight to c.
        #expect(ClusterCommandRouting(slot: 50).target(in: threeMasters) == a)
        #expect(ClusterCommandRouting(slot: 50).target(in: fresh!) == c)
    }
}
