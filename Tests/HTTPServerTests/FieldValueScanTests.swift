import Testing

@testable import HTTPServer

/// The word-at-a-time field value check agrees with the byte rule at every position.
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
}
