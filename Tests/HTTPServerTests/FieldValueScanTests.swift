import Testing

@testable import HTTPServer

/// The word-at-a-time field value checks and the token table agree with the byte rules.
@Suite struct FieldValueScanTests {
    func check(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { HTTPSyntax.allFieldValueBytes($0.baseAddress!, count: $0.count) }
    }

    @Test func agreesWithTheByteRuleAtEveryPosition() {
        let clean = Array("Bearer ck_issue_4f1c2b9a8e7\u{e9}d6".utf8)  // 29 bytes, obs-text included
        #expect(check(clean))
        for position in clean.indices {
            for byte: UInt8 in [0x00, 0x01, 0x0A, 0x0D, 0x1F, 0x7F, 0x09, 0x20, 0x80, 0xFF] {
                var bytes = clean
                bytes[position] = byte
                #expect(check(bytes) == bytes.allSatisfy(HTTPSyntax.isFieldValueByte), "byte \(byte) at \(position)")
            }
        }
        #expect(check([]))
    }

    /// The first control byte is found wherever it sits in a word or in the tail, and a byte
    /// above it in the same word (a borrow's false flag) never hides it.
    @Test func firstControlByteIsExactAtEveryPosition() {
        let clean = Array("Bearer ck_issue_4f1c2b9a8e7\u{e9}d6".utf8)
        func first(_ bytes: [UInt8]) -> Int {
            bytes.withUnsafeBufferPointer { HTTPSyntax.firstControlByte($0.baseAddress!, count: $0.count) }
        }
        #expect(first(clean) == clean.count)
        for position in clean.indices {
            for byte: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x7F] {
                var bytes = clean
                bytes[position] = byte
                #expect(first(bytes) == position, "byte \(byte) at \(position)")
                for later in (position + 1)..<min(position + 9, clean.count) {
                    var two = bytes
                    two[later] = 0x00
                    #expect(first(two) == position, "byte \(byte) at \(position), NUL at \(later)")
                }
            }
        }
        #expect(first([]) == 0)
    }

    /// The word-at-a-time lower-casing folds `A`–`Z` and nothing else, whatever the bytes beside
    /// it (a carry between bytes would show as a changed neighbour).
    @Test func wordLowercasingIsTheByteRuleForEveryByte() {
        let neighbours: [UInt8] = [0x00, 0x3F, 0x40, 0x41, 0x5A, 0x5B, 0x7F, 0x80, 0xC1, 0xDA, 0xFF]
        for byte in UInt8.min...UInt8.max {
            for position in 0..<8 {
                for neighbour in neighbours {
                    var bytes = [UInt8](repeating: neighbour, count: 8)
                    bytes[position] = byte
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    let folded = withUnsafeBytes(of: HTTPRequestParser.lowercased(word)) { Array($0) }
                    if folded != bytes.map(HTTPRequestParser.lowercased) {
                        Issue.record("byte \(byte) at \(position) among \(neighbour): \(folded)")
                    }
                }
            }
        }
    }

    /// Case-insensitive comparison with a literal, by words from eight bytes on: every byte of
    /// the name matters, in either case, and nothing else matches.
    @Test func equalsLowercaseComparesEveryByte() {
        func equals(_ text: String, _ literal: StaticString) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { HTTPRequestParser.equalsLowercase($0, literal) }
        }
        #expect(equals("Content-Length", "content-length"))
        #expect(equals("CONTENT-LENGTH", "content-length"))
        #expect(equals("content-length", "content-length"))
        #expect(equals("Transfer-Encoding", "transfer-encoding"))
        #expect(equals("HOST", "host"))
        #expect(equals("Keep-Alive", "keep-alive"))
        #expect(!equals("Content-Lengt", "content-length"))
        #expect(!equals("Content-Lengthx", "content-length"))
        #expect(!equals("Content\rLength", "content-length"))  // 0x0D | 0x20 would be "-"
        #expect(!equals("Content_Length", "content-length"))
        #expect(!equals("", "host"))
        let name = Array("transfer-encoding".utf8)
        for position in name.indices {
            for byte: UInt8 in [0x00, 0x0D, name[position] ^ 0x20 ^ 0x01, name[position] &+ 0x80, name[position] ^ 0x40] {
                var changed = name
                changed[position] = byte
                let text = String(decoding: changed, as: UTF8.self)
                let expected = changed.map(HTTPRequestParser.lowercased) == name
                #expect(changed.withUnsafeBufferPointer { HTTPRequestParser.equalsLowercase($0, "transfer-encoding") } == expected, "\(text)")
            }
        }
    }

    @Test func tokenTableIsTheTokenRule() {
        for byte in UInt8.min...UInt8.max {
            #expect(HTTPSyntax.isTokenByteFast(byte) == HTTPSyntax.isTokenByte(byte), "byte \(byte)")
        }
    }
}
