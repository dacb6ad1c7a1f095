import Testing
@testable import RedisClient

@Suite struct RedisClusterSlotTests {
    @Test func crc16KnownAnswer() {
        #expect(RedisClusterSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisClusterSlot.crc16([UInt8]()) == 0)
    }

    @Test func slotsMatchRedis() {
        #expect(RedisClusterSlot.slot(forKey: "foo") == 12182)
        #expect(RedisClusterSlot.slot(forKey: "bar") == 5061)
        #expect(RedisClusterSlot.slot(forKey: "") == 0)
    }

    @Test func hashTags() {
        #expect(RedisClusterSlot.slot(forKey: "{user1000}.following") == RedisClusterSlot.slot(forKey: "{user1000}.followers"))
        #expect(RedisClusterSlot.slot(forKey: "{user1000}.following") == RedisClusterSlot.slot(forKey: "user1000"))
        // Empty tag: the whole key is hashed.
        #expect(RedisClusterSlot.slot(forKey: "foo{}{bar}") == Int(RedisClusterSlot.crc16(Array("foo{}{bar}".utf8)) & 0x3FFF))
        #expect(RedisClusterSlot.slot(forKey: "foo{}{bar}") != RedisClusterSlot.slot(forKey: "bar"))
        // First `{`, then the first `}` after it.
        #expect(RedisClusterSlot.slot(forKey: "foo{{bar}}zap") == RedisClusterSlot.slot(forKey: "{bar"))
        #expect(RedisClusterSlot.slot(forKey: "foo{bar}{zap}") == RedisClusterSlot.slot(forKey: "bar"))
        #expect(RedisClusterSlot.slot(forKey: "foo{bar") == RedisClusterSlot.slot(forKey: Array("foo{bar".utf8)))
        // The campaign layout: every key of a campaign lands in one slot.
        #expect(RedisClusterSlot.slot(forKey: "cp:{c:42}:stock") == RedisClusterSlot.slot(forKey: "cp:{c:42}:grants"))
        #expect(RedisClusterSlot.slot(forKey: RedisArgument.string("cp:{c:42}:meta")) == RedisClusterSlot.slot(forKey: "c:42"))
    }
}
