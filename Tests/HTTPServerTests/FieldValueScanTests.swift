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

    @Test func tokenTableIsTheTokenRule() {
        for byte in UInt8.min...UInt8.max {
            #expect(HTTPSyntax.isTokenByteFast(byte) == HTTPSyntax.isTokenByte(byte), "byte \(byte)")
        }
    }
}
