import CouponCore
import RiskControl
import Testing

@testable import CouponService
@testable import HTTPServer
@testable import Issuance
@testable import RedisClient

/// The claim path's reused pieces (issue 15, fourth wave), without sockets: each must answer
/// exactly what the allocating form it replaces answered.
@Suite struct ClaimReplyReuseTests {
    static func grant(user: String, code: String = "C0123456789ABCDE", stream: String = "1764676600123-0", request: String = "r1") -> Grant {
        Grant(
            code: code, campaignId: 42, userId: user, requestId: request, issuedAtMs: 1_764_676_600_123,
            validFromMs: -5, validUntilMs: 1_767_268_600_000, streamId: stream)
    }

    static func wire(_ command: [RedisArgument]) -> [[UInt8]] {
        command.map { argument in
            switch argument {
            case .string(let text): Array(text.utf8)
            case .bytes(let bytes): bytes
            case .int(let value): Array(String(value).utf8)
            }
        }
    }

    /// The rewritten-in-place user-index commands are byte for byte `GrantHints.indexCommands`,
    /// also after a longer grant (nothing carried over) and while an earlier copy is still held.
    @Test func indexCommandsInPlaceMatchTheAllocatingForm() {
        let commands = GrantHints.IndexCommands()
        let grants = [
            Self.grant(user: "a-rather-long-user-id-of-the-claim@example", request: "request-id-with-some-length"),
            Self.grant(user: "u", code: "Z", stream: "1-0", request: "r"),
            Self.grant(user: "ualloc-0-12345"),
        ]
        var held: [[RedisArgument]] = []
        for grant in grants {
            let sent = commands.with(grant) { zadd, pexpire in [zadd, pexpire] }
            #expect(sent.map(Self.wire) == GrantHints.indexCommands(grant).map(Self.wire))
            held += sent
        }
        #expect(held.map(Self.wire) == grants.flatMap(GrantHints.indexCommands).map(Self.wire))
    }

    /// A grant record read from the reply's bytes is the one read from its `String`; a new
    /// grant shares the code it was offered, a replay (another code) gets its own.
    @Test func grantRecordFromBytes() {
        let record = "C0123456789ABCDE|1764676600123|-5|1767268600000|1764676600123-12"
        let fromText = Grant(record: record, campaignId: 42, userId: "u1", requestId: "r1")
        #expect(fromText == Self.grant(user: "u1", stream: "1764676600123-12"))
        let sent = String("C0123456789ABCDE".reversed().reversed())
        let decided = ClaimDecision(
            reply: .array([.bulkString(Array("granted".utf8)), .bulkString(Array(record.utf8))]), campaignId: 42, userId: "u1",
            requestId: "r1", sentCode: sent)
        #expect(decided == .granted(fromText!))
        #expect(decided?.grant?.code.utf8.withContiguousStorageIfAvailable { $0.baseAddress } == sent.utf8.withContiguousStorageIfAvailable { $0.baseAddress })
        let replayed = ClaimDecision(
            reply: .array([.bulkString(Array("replayed".utf8)), .bulkString(Array(record.utf8))]), campaignId: 42, userId: "u1",
            requestId: "r1", sentCode: "OTHERCODE0000000")
        #expect(replayed == .replayed(fromText!))
        // The index member's form (request id last) and malformed records.
        #expect(Grant(record: record + "|rq", campaignId: 1, userId: "u", requestId: "r")?.requestId == "rq")
        for bad in ["", "C|1|2|3", "C|1|2|3|s|r|extra", "C|x|2|3|s", "C|1|2|+|s", "C|9223372036854775808|2|3|s", "C||2|3|s"] {
            #expect(Grant(record: bad, campaignId: 1, userId: "u", requestId: "r") == nil, "\(bad)")
        }
        #expect(Grant(record: "C|+7|-9223372036854775808|0|s", campaignId: 1, userId: "u", requestId: "r")?.validFromMs == Int64.min)
    }

    /// A claim reply mapped where hiredis built it (`RESPReplyView` over the `ReplyArena`) is
    /// decided exactly as its `RESPValue` copy, for every shape the scripts answer and bad ones.
    @Test func decisionsFromRepliesInPlace() {
        let record = "C0123456789ABCDE|1764676600123|-5|1767268600000|1764676600123-12"
        let wire = "*6\r\n*2\r\n$7\r\ngranted\r\n$\(record.utf8.count)\r\n\(record)\r\n*1\r\n$8\r\nsold_out\r\n"
            + "*1\r\n$16\r\nunknown_campaign\r\n*2\r\n+replayed\r\n$3\r\na|b\r\n*0\r\n*1\r\n:5\r\n"
        let requests = (0..<6).map { ClaimRequest(campaignId: 42, userId: "u\($0)", requestId: "r\($0)", tags: []) }
        let arena = ReplyArena()
        let inPlace = arena.parse([Array(wire.utf8)]) { ClaimEngine.decisions($0, requests, batched: true, sentCodes: nil) }
        let copied = arena.parse([Array(wire.utf8)])!.map { ClaimEngine.decisions(RESPReplyView($0), requests, batched: true, sentCodes: nil) }
        #expect(inPlace?.count == 1 && inPlace == copied)
        let decided = inPlace?.first ?? []
        #expect(decided.count == 6)
        #expect(decided.first == .success(.granted(Grant(record: record, campaignId: 42, userId: "u0", requestId: "r0")!)))
        #expect(decided.dropFirst().first == .success(.refused(.soldOut)))
        #expect(decided.dropFirst(2).first == .success(.unknownCampaign))
        #expect(decided.dropFirst(3).allSatisfy { if case .failure(.badReply) = $0 { true } else { false } })
        // A batch reply of the wrong length fails every claim of it.
        let short = arena.parse([Array("*1\r\n*1\r\n$8\r\nsold_out\r\n".utf8)]) { ClaimEngine.decisions($0, requests, batched: true, sentCodes: nil) }
        #expect(short?.first?.count == 6 && short?.first?.allSatisfy { $0 == .failure(.badReply("[[\"sold_out\"]]")) } == true)
    }

    /// A route's first parameter is held inline; lookups, order and removal are as before.
    @Test func routeParametersInline() {
        var parameters = RouteParameters()
        #expect(parameters.count == 0 && parameters["id"] == nil && Array(parameters).isEmpty)
        parameters.append(name: "id", value: "7")
        parameters.append(name: "code", value: "X")
        #expect(parameters.count == 2 && parameters["id"] == "7" && parameters["code"] == "X")
        #expect(parameters.map(\.name) == ["id", "code"])
        parameters.removeLast()
        #expect(parameters.count == 1 && parameters["code"] == nil)
        parameters.removeLast()
        #expect(parameters.count == 0 && parameters["id"] == nil)
        #expect(RouteParameters(dictionaryLiteral: ("a", "1"), ("b", "2")).dictionary == ["a": "1", "b": "2"])
    }

    /// The head's copy and its spans share one array: cut from the middle of a buffer (a
    /// pipelined request after another), names, values, duplicates and byte lookups stay right.
    @Test func headerFieldsShareOneAllocationWithTheirSpans() {
        let before = Array("GET / HTTP/1.1\r\n".utf8)
        let lines = Array("Host: a\r\nX-Two: 1\r\nx-two: 2\r\nAuthorization: Bearer k\r\n".utf8)
        let buffer = before + lines + Array("\r\n".utf8)
        func span(_ name: String, _ value: String) -> RawHeaderFields.Span {
            let line = Array("\(name): \(value)".utf8)
            let start = before.count + (0...(lines.count - line.count)).first { Array(lines[$0..<($0 + line.count)]) == line }!
            let valueStart = start + name.utf8.count + 2
            return .init(nameStart: Int32(start), nameEnd: Int32(start + name.utf8.count),
                         valueStart: Int32(valueStart), valueEnd: Int32(valueStart + value.utf8.count))
        }
        let raw = RawHeaderFields(
            head: buffer[before.count..<(before.count + lines.count)],
            spans: [span("Host", "a"), span("X-Two", "1"), span("x-two", "2"), span("Authorization", "Bearer k")])
        let headers = HTTPHeaders(raw: raw)
        #expect(headers.count == 4 && raw.indices == 0..<4)
        #expect(headers.map(\.name) == ["Host", "X-Two", "x-two", "Authorization"])
        #expect(headers["x-TWO"] == "1" && headers.values(for: "X-two") == ["1", "2"] && headers["host"] == "a")
        #expect(headers.withFirstValueBytes(for: "authorization") { $0.map { Array($0) } } == Array("Bearer k".utf8))
        #expect(headers["missing"] == nil && !headers.contains(name: "hos"))
    }

    /// The claim handler's answer (its handler and responder) fits an existential's three inline
    /// words, so the engine holds it without allocating.
    @Test func claimAnswerFitsTheInlineWaiter() {
        #expect(MemoryLayout<ClaimHandler.Answer>.size <= 3 * MemoryLayout<Int>.size)
        #expect(MemoryLayout<ClaimHandler.Answer>.alignment <= MemoryLayout<Int>.alignment)
    }

    /// A loop's last key answers only while `KeyCache.lookup` would answer the same: the same
    /// key's bytes, younger than the refresh age, and no change to the cache since.
    @Test func lastKeyServesOnlyWhatTheCacheWould() {
        let clock = StepNanoClock()
        let cache = KeyCache(maxAgeSeconds: 3, clock: clock)
        let principal = KeyPrincipal(role: .issue, label: "k")
        cache.remember("cpk_one", principal: principal, startedNanos: 0)
        let found = cache.lookupFresh("cpk_one")
        #expect(found.lookup == .known(principal, refresh: false))
        #expect(found.freshUntil == 1_000_000_000)
        let last = LastKey()
        last.remember("cpk_one", principal: principal, freshUntil: found.freshUntil, version: found.version)
        func serve(_ key: String, at now: UInt64) -> KeyPrincipal? {
            Array(key.utf8).withUnsafeBufferPointer { last.principal(bearing: $0, now: now, version: cache.version) }
        }
        #expect(serve("cpk_one", at: 999_999_999) == principal)
        #expect(serve("cpk_onE", at: 0) == nil)
        #expect(serve("cpk_on", at: 0) == nil)
        #expect(serve("cpk_one", at: 1_000_000_000) == nil)  // refresh age: the cache must be asked (it re-validates)
        cache.remember("cpk_one", principal: nil, startedNanos: 5)  // revoked
        #expect(serve("cpk_one", at: 10) == nil)
    }

    @Test func stringFieldsInline() throws {
        let body = Array(#"{"request_id":"r","user_id":"u","channel":"app"}"#.utf8)
        let fields = try body.withUnsafeBufferPointer { try JSONStringFields.decodeFields($0, keys: ["user_id", "request_id", "channel", "x"]) }
        #expect([fields[0], fields[1], fields[2], fields[3], fields[8]] == ["u", "r", "app", nil, nil])
    }
}

/// A clock the test moves.
final class StepNanoClock: NanoClock, @unchecked Sendable {
    var nanos: UInt64 = 0
    func now() -> UInt64 { nanos }
}
