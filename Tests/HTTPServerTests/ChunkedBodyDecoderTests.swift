import Testing

@testable import HTTPServer

/// The chunked-body decoder alone (RFC 9112 §7.1), fed in pieces of every size.
@Suite struct ChunkedBodyDecoderTests {
    struct Decoded: Equatable {
        var body: [UInt8] = []
        var ended = false
        var error: HTTPParserError.Code?
        /// Input bytes consumed in all (bytes after the body's end are left).
        var consumed = 0
    }

    /// Feeds `pieces` one after another, decoding each until it is used up, the body ends or fails.
    static func decode(_ pieces: [[UInt8]], limit: Int = 1 << 20, maxLineBytes: Int = 4096, maxTrailerBytes: Int = 32768) -> Decoded {
        var decoder = ChunkedBodyDecoder(maxBodyBytes: limit, maxLineBytes: maxLineBytes, maxTrailerBytes: maxTrailerBytes)
        var result = Decoded()
        for piece in pieces {
            var offset = 0
            while offset < piece.count {
                let (consumed, event) = piece.withUnsafeBufferPointer { all in
                    decoder.decode(UnsafeBufferPointer(rebasing: all[offset...]))
                }
                switch event {
                case .success(.data(let range)):
                    result.body += piece[(offset + range.lowerBound)..<(offset + range.upperBound)]
                case .success(.end):
                    result.ended = true
                case .success(.needMoreData):
                    break
                case .failure(let error):
                    result.error = error.code
                }
                offset += consumed
                result.consumed += consumed
                if result.ended || result.error != nil { return result }
            }
        }
        return result
    }

    static func decode(_ text: String, limit: Int = 1 << 20) -> Decoded { decode([bytes(text)], limit: limit) }

    /// The known answer of the common example: "Wiki", "pedia", " in\r\n\r\nchunks.".
    static let wire = "4\r\nWiki\r\n5;name=value;q=\"a b\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"
    static let decoded = Decoded(body: bytes("Wikipedia in\r\n\r\nchunks."), ended: true, consumed: bytes(wire).count)

    @Test func knownAnswerWhole() {
        #expect(Self.decode(Self.wire) == Self.decoded)
    }

    @Test func byteAtATime() {
        #expect(Self.decode(bytes(Self.wire).map { [$0] }) == Self.decoded)
    }

    @Test func everySplitPointAndEveryPairOfSplitPoints() {
        let all = bytes(Self.wire)
        for first in 0...all.count {
            #expect(Self.decode([Array(all[..<first]), Array(all[first...])]) == Self.decoded, "split at \(first)")
            for second in stride(from: first, through: all.count, by: 5) {
                let pieces = [Array(all[..<first]), Array(all[first..<second]), Array(all[second...])]
                #expect(Self.decode(pieces) == Self.decoded, "splits at \(first), \(second)")
            }
        }
    }

    @Test func arbitrarySplitsOfALargeBody() {
        // 300 chunks of sizes 1...300 (hex in both cases), split at pseudo-random points.
        var wire: [UInt8] = []
        var body: [UInt8] = []
        for size in 1...300 {
            let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
            let hex = String(size, radix: 16, uppercase: size % 2 == 0)
            wire += bytes("\(hex)\r\n") + data + bytes("\r\n")
            body += data
        }
        wire += bytes("0\r\n\r\n")
        var generator = SplitMix(seed: 12)
        for _ in 0..<50 {
            var pieces: [[UInt8]] = []
            var start = 0
            while start < wire.count {
                let end = min(wire.count, start + Int(generator.next() % 700) + 1)
                pieces.append(Array(wire[start..<end]))
                start = end
            }
            #expect(Self.decode(pieces) == Decoded(body: body, ended: true, consumed: wire.count))
        }
    }

    @Test func leadingZerosBothHexCasesAndBytesAfterTheEndAreLeft() {
        let body = "000A\r\n0123456789\r\na\r\nabcdefghij\r\n00\r\n\r\n"
        #expect(Self.decode(body + "GET /next") == Decoded(body: bytes("0123456789abcdefghij"), ended: true, consumed: bytes(body).count))
        #expect(Self.decode("0\r\n\r\n") == Decoded(body: [], ended: true, consumed: 5))
        #expect(Self.decode("3 \t;ext\r\nabc\r\n0 \r\n\r\n") == Decoded(body: bytes("abc"), ended: true, consumed: 20))
    }

    @Test func malformedFramingIsRefused() {
        func error(_ text: String) -> HTTPParserError.Code? { Self.decode(text).error }
        #expect(error("\r\nabc\r\n0\r\n\r\n") == .invalidChunkedBody)  // no size
        #expect(error(";ext\r\n") == .invalidChunkedBody)
        #expect(error("g\r\n") == .invalidChunkedBody)
        #expect(error("-1\r\n") == .invalidChunkedBody)
        #expect(error("+1\r\n") == .invalidChunkedBody)
        #expect(error("0x5\r\nhello\r\n") == .invalidChunkedBody)
        #expect(error("5 6\r\nhello\r\n") == .invalidChunkedBody)  // whitespace, then only ";" or CRLF
        #expect(error("3\nabc\r\n0\r\n\r\n") == .invalidChunkedBody)  // bare LF ends the size line
        #expect(error("3\r\rabc") == .invalidChunkedBody)
        #expect(error("3\r\nabc\n0\r\n\r\n") == .invalidChunkedBody)  // bare LF after data
        #expect(error("3\r\nabcd\r\n0\r\n\r\n") == .invalidChunkedBody)  // data longer than its size
        #expect(error("3\r\nabc0\r\n\r\n") == .invalidChunkedBody)  // no CRLF after data
        #expect(error("3;a\u{0}b\r\nabc\r\n") == .invalidChunkedBody)  // control byte in an extension
        #expect(error("3;a\nb\r\nabc\r\n") == .invalidChunkedBody)
        #expect(error("0\r\n\n") == .invalidChunkedBody)  // bare LF as the final line
        #expect(error("0\r\nA: b\n\r\n") == .invalidChunkedBody)
        #expect(error("0\r\nA: b\r\n c\r\n\r\n") == .invalidChunkedBody)  // obs-fold in the trailers
        #expect(error("0\r\n:x\r\n\r\n") == .invalidChunkedBody)
        #expect(error("0\r\n\rX") == .invalidChunkedBody)
    }

    @Test func hexOverflowAndOversizedLines() {
        #expect(Self.decode("10000000000000000\r\n").error == .invalidChunkedBody)  // 2^64
        #expect(Self.decode("8000000000000000\r\n").error == .invalidChunkedBody)  // 2^63
        #expect(Self.decode("FFFFFFFFFFFFFFFFFFFF\r\n").error == .invalidChunkedBody)
        // The largest size that fits is well-formed, and far over any route's limit.
        #expect(Self.decode("7FFFFFFFFFFFFFFF\r\n").error == .bodyTooLarge)
        let zeros = String(repeating: "0", count: 5000) + "1\r\nx\r\n0\r\n\r\n"
        #expect(Self.decode(zeros).error == .chunkLineTooLong)
        let extensions = "1;" + String(repeating: "a", count: 5000) + "\r\nx\r\n0\r\n\r\n"
        #expect(Self.decode(extensions).error == .chunkLineTooLong)
        // Refused as soon as the line passes the limit, not at its end.
        let endless = Self.decode([bytes("1;"), [UInt8](repeating: 0x61, count: 100)], maxLineBytes: 64)
        #expect(endless.error == .chunkLineTooLong)
        #expect(endless.consumed == 64)
        let trailers = "0\r\n" + (0..<100).map { "X-\($0): \(String(repeating: "v", count: 400))\r\n" }.joined() + "\r\n"
        #expect(Self.decode(trailers).error == .headerFieldsTooLarge)
        #expect(Self.decode([bytes(trailers)], maxTrailerBytes: 1 << 20).ended)
    }

    @Test func theLimitHoldsForTheDecodedSizeBeforeTheDataArrives() {
        let wire = "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"
        #expect(Self.decode(wire, limit: 11) == Decoded(body: bytes("helloworld!"), ended: true, consumed: bytes(wire).count))
        let over = Self.decode(wire, limit: 10)
        #expect(over.error == .bodyTooLarge)
        #expect(over.body == bytes("hello"))  // "world!" is refused at its size line
        #expect(over.consumed == 11)
        #expect(HTTPParserError(.bodyTooLarge).status == 413)
        // Many small chunks add up: the 11th byte is refused.
        let small = String(repeating: "1\r\nx\r\n", count: 11) + "0\r\n\r\n"
        #expect(Self.decode(small, limit: 10).error == .bodyTooLarge)
        #expect(Self.decode(small, limit: 10).body.count == 10)
    }

    @Test func afterAnErrorEveryCallFailsTheSameWay() {
        var decoder = ChunkedBodyDecoder(maxBodyBytes: 100)
        let first = bytes("zz").withUnsafeBufferPointer { decoder.decode($0) }
        #expect(first.consumed == 0)
        #expect(first.event == .failure(HTTPParserError(.invalidChunkedBody)))
        let again = bytes("0\r\n\r\n").withUnsafeBufferPointer { decoder.decode($0) }
        #expect(again.event == .failure(HTTPParserError(.invalidChunkedBody)))
        #expect(again.consumed == 0)
    }
}

/// A small deterministic generator for split points (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
