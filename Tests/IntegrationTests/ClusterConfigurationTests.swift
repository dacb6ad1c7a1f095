import CouponService
import RedisClient
import ServiceTestSupport
import TestSupport
import Testing

/// `--redis-cluster` / `COUPOND_REDIS_CLUSTER` choose Redis Cluster; bad seed lists are refused.
@Suite struct ClusterConfigurationTests {
    @Test func standaloneByDefault() throws {
        let (configuration, _) = try Configuration.parse(arguments: ["--redis", "10.0.0.9:6380"], environment: [:])
        #expect(configuration.redisCluster.isEmpty)
        #expect(configuration.redisDeployment == .standalone(.tcp("10.0.0.9", 6380)))
        #expect(configuration.redisClusterRefreshSeconds == 5)
    }

    @Test func flagAndEnvironment() throws {
        let (fromFlag, _) = try Configuration.parse(
            arguments: ["--redis-cluster", "127.0.0.1:7000, 127.0.0.1:7001", "--redis-cluster-refresh-seconds", "2.5"], environment: [:])
        #expect(fromFlag.redisDeployment == .cluster([.tcp("127.0.0.1", 7000), .tcp("127.0.0.1", 7001)]))
        #expect(fromFlag.redisClusterRefreshSeconds == 2.5)
        let (fromEnvironment, _) = try Configuration.parse(arguments: [], environment: ["COUPOND_REDIS_CLUSTER": "10.1.1.1:7000"])
        #expect(fromEnvironment.redisDeployment == .cluster([.tcp("10.1.1.1", 7000)]))
        #expect(fromEnvironment.redisDeployment.description == "cluster:10.1.1.1:7000")
    }

    @Test func badSeedListsAreRefused() {
        for value in ["", ",", "127.0.0.1", "127.0.0.1:0", "unix:/tmp/redis.sock", "127.0.0.1:7000,nope"] {
            #expect(throws: Configuration.Error.self, "\(value)") {
                _ = try Configuration.parse(arguments: ["--redis-cluster", value], environment: [:])
            }
        }
        #expect(throws: Configuration.Error.self) {
            _ = try Configuration.parse(arguments: ["--redis-cluster-refresh-seconds", "0"], environment: [:])
        }
    }

    /// No seed answers at start: the node still starts (like a standalone Redis that is down),
    /// claims get 503 `unavailable` with `Retry-After`, and it keeps asking the seeds.
    @Test func aNodeStartsWhileTheClusterIsUnreachable() throws {
        let node = try TestNode.start(configure: { $0.redisCluster = [.tcp("127.0.0.1", TestEnvironment.freePort())] })
        defer { node.stop() }
        let response = try node.claim(campaignId: 1, userId: "alice", requestId: "r1")
        #expect(response.status == 503)
        #expect(TestNode.code(of: response) == "unavailable")
        #expect(response.headers["retry-after"] == "1")
    }
}

