import Testing
@testable import BulkIssuance

@Suite struct BulkLineReaderTests {
    func read(_ pieces: [String]) throws -> [String] {
        var reader = BulkLineReader()
        var ids: [String] = []
        for piece in pieces { try reader.feed(Array(piece.utf8)) { ids.append($0) } }
        try reader.finish { ids.append($0) }
        return ids
    }

    @Test func oneIdPerLineWithCRLFBlankLinesAndNoFinalNewline() throws {
        #expect(try read(["u1\r\nu2\n\n  u3 \nu4"]) == ["u1", "u2", "u3", "u4"])
    }

    @Test func csvTakesTheFirstColumnAndSkipsAHeader() throws {
        #expect(try read(["user_id,name\n\"u1\",Ann\nu2,Bob\n"]) == ["u1", "u2"])
    }

    @Test func aHeaderOnlyCountsOnTheFirstLine() throws {
        #expect(try read(["u1\nuser_id\n"]) == ["u1", "user_id"])
    }

    @Test func linesSplitAcrossPiecesAreJoined() throws {
        #expect(try read(["u", "1\nu2", "2\n", "u3"]) == ["u1", "u22", "u3"])
    }

    @Test func anInvalidIdNamesItsLine() throws {
        #expect(throws: BulkLineReader.InvalidLine(line: 3, reason: "user id must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @")) {
            _ = try read(["u1\n\nbad id!\nu4\n"])
        }
    }

    @Test func aLineWithoutAnIdIsRefused() throws {
        #expect(throws: BulkLineReader.InvalidLine(line: 2, reason: "no user id in the first column")) {
            _ = try read(["u1\n,x\n"])
        }
    }

    @Test func anOverlongLineIsRefusedWithoutBufferingIt() throws {
        #expect(throws: BulkLineReader.InvalidLine(line: 2, reason: "longer than 4096 bytes")) {
            _ = try read(["u1\n" + String(repeating: "x", count: 5000)])
        }
    }
}
