import Testing
@testable import RedisClient

@Suite struct RedisErrorTests {
    @Test func prefixesAreTyped() {
        #expect(RedisServerError(message: "NOSCRIPT No matching script. Please use EVAL.").prefix == .noscript)
        #expect(RedisServerError(message: "BUSYGROUP Consumer Group name already exists").prefix == .busygroup)
        #expect(RedisServerError(message: "LOADING Redis is loading the dataset in memory").prefix == .loading)
        #expect(RedisServerError(message: "WEIRD thing").prefix == .other("WEIRD"))
        #expect(RedisError.server(RedisServerError(message: "LOADING x")).isUnavailable)
        #expect(!RedisError.server(RedisServerError(message: "ERR x")).isUnavailable)
        #expect(RedisError.timeout.isUnavailable && RedisError.notConnected.isUnavailable && RedisError.connectionLost.isUnavailable)
        #expect(!RedisError.protocolError("x").isUnavailable)
    }

    @Test func redirectionsParse() {
        let moved = RedisServerError(message: "MOVED 3999 127.0.0.1:6381")
        #expect(moved.prefix == .moved)
        #expect(moved.redirection?.slot == 3999)
        #expect(moved.redirection?.host == "127.0.0.1")
        #expect(moved.redirection?.port == 6381)
        #expect(RedisServerError(message: "ASK 1 ::1:7000").redirection?.host == "::1")
        #expect(RedisServerError(message: "ERR MOVED").redirection == nil)
    }

    @Test func argumentsEncode() {
        var buffer: [UInt8] = []
        for value: Int64 in [0, 7, -7, 1234567890, Int64.min, Int64.max] {
            buffer.removeAll()
            RedisArgument.int(value).append(to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == String(value))
        }
        let id = 42
        let key: RedisArgument = "cp:{c:\(id)}:stock"
        #expect(key == .string("cp:{c:42}:stock"))
    }
}
