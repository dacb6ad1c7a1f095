import Testing

@testable import RedisClient

/// hiredis' reader building replies in a connection's `ReplyArena` instead of malloc'd objects,
/// fed bytes without a socket.
@Suite struct ReplyArenaTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func everyReplyKindAsHiredisBuildsIt() {
        let arena = ReplyArena()
        let replies = arena.parse([
            bytes("+OK\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n-NOSCRIPT No matching script\r\n"),
            bytes("*2\r\n*2\r\n$7\r\ngranted\r\n$4\r\nA|1|\r\n*1\r\n:7\r\n"),
        ])
        #expect(
            replies == [
                .simpleString("OK"), .integer(-42), .bulkString(bytes("hello")), .bulkString([]), .null, .null, .array([]),
                .error(RedisServerError(message: "NOSCRIPT No matching script")),
                .array([.array([.bulkString(bytes("granted")), .bulkString(bytes("A|1|"))]), .array([.integer(7)])]),
            ])
    }

    /// A reply split anywhere over several reads is built across them (the arena is not reset
    /// mid-reply), and binary bytes (NUL, CR, LF) inside a bulk string survive.
    @Test func replySplitAtEveryByte() {
        let wire = bytes("*3\r\n$3\r\n") + [0, 13, 10] + bytes("\r\n*2\r\n:1\r\n$-1\r\n+PONG\r\n") + bytes(":9\r\n")
        let expected: [RESPValue] = [.array([.bulkString([0, 13, 10]), .array([.integer(1), .null]), .simpleString("PONG")]), .integer(9)]
        for cut in 1..<wire.count {
            #expect(ReplyArena().parse([Array(wire[..<cut]), Array(wire[cut...])]) == expected, "cut at \(cut)")
        }
        #expect(ReplyArena().parse(wire.map { [$0] }) == expected)
    }

    /// Replies larger than a block (many elements, one huge string) are built whole; the blocks
    /// beyond the kept ones are given back when the next reply starts.
    @Test func largeRepliesAndBlockReuse() {
        let arena = ReplyArena()
        let count = 5_000  // ≈ 5,000 × (object + element pointer + string) > 2 blocks
        var wire = bytes("*\(count)\r\n")
        for index in 0..<count { wire += bytes("$\(String(index).utf8.count)\r\n\(index)\r\n") }
        let huge = [UInt8](repeating: UInt8(ascii: "x"), count: ReplyArena.blockSize * 2)
        wire += bytes("$\(huge.count)\r\n") + huge + bytes("\r\n")
        wire += bytes(":1\r\n")
        let replies = arena.parse([wire])
        #expect(replies?.count == 3)
        #expect(replies?[0] == .array((0..<count).map { .bulkString(bytes(String($0))) }))
        #expect(replies?[1] == .bulkString(huge))
        #expect(replies?[2] == .integer(1))
        #expect(arena.blockCount == ReplyArena.keptBlocks)
    }

    @Test func protocolErrorIsReported() {
        #expect(ReplyArena().parse([bytes("+OK\r\n"), bytes("?bad\r\n")]) == nil)
    }
}

/// Short bulk strings that recur are shared between replies, never mixed up.
@Suite struct ShortBulkStringsTests {
    func share(_ strings: ShortBulkStrings, _ text: String) -> [UInt8] {
        Array(text.utf8).withUnsafeBytes { strings.bytes($0) }
    }

    @Test func equalBytesShareOneArray() {
        let strings = ShortBulkStrings()
        let first = share(strings, "granted")
        let second = share(strings, "granted")
        #expect(first == Array("granted".utf8))
        #expect(first.withUnsafeBufferPointer { $0.baseAddress } == second.withUnsafeBufferPointer { $0.baseAddress })
        // Same length and edge bytes (same slot), other bytes: its own copy, and the slot now holds it.
        #expect(share(strings, "gXXXXXd") == Array("gXXXXXd".utf8))
        #expect(share(strings, "granted") == Array("granted".utf8))
        #expect(share(strings, "") == [])
    }
}
