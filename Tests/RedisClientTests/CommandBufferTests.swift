import Testing

@testable import RedisClient

/// Commands laid out in RESP by the connection's reused buffer (what hiredis' formatter wrote before).
@Suite struct CommandBufferTests {
    func resp(_ buffer: CommandBuffer, _ args: [RedisArgument]) -> [UInt8] {
        buffer.withRESP(args) { pointer, count in
            Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: count))
        }
    }

    @Test func argumentsOfEveryKindInRESP() {
        let buffer = CommandBuffer()
        #expect(resp(buffer, ["PING"]) == Array("*1\r\n$4\r\nPING\r\n".utf8))
        #expect(
            resp(buffer, ["ZADD", "cp:{u:é}:grants", .int(-1_700_000_000_123), .int(0), .bytes([0, 13, 10])])
                == Array("*5\r\n$4\r\nZADD\r\n$16\r\ncp:{u:é}:grants\r\n$14\r\n-1700000000123\r\n$1\r\n0\r\n$3\r\n".utf8) + [0, 13, 10, 13, 10])
        // The buffer is reused: a shorter command after a longer one carries nothing over.
        #expect(resp(buffer, ["GET", ""]) == Array("*2\r\n$3\r\nGET\r\n$0\r\n\r\n".utf8))
        #expect(RedisArgument.int(Int64.min).byteCount == 20)
    }
}
