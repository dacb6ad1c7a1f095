import CouponCore
import Testing

/// `Identifier.isValid`: 1...128 bytes of `A-Z a-z 0-9 _ - . : @` (user, request and order ids).
@Suite struct IdentifierTests {
    @Test(arguments: ["u", "user-1", "A.b_c:d@e", "0", String(repeating: "x", count: 128), String(repeating: "9", count: 127) + "@"])
    func accepted(_ text: String) {
        #expect(Identifier.isValid(text), "\(text)")
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 129), "a b", "a/b", "a\u{0}", "é", "user\u{301}", "a+b", "a\nb", "ａ", "{u:1}", "a\"b",
    ])
    func refused(_ text: String) {
        #expect(!Identifier.isValid(text), "\(text)")
    }

    /// Every byte value, alone and at the end of a valid prefix: exactly the allowed set passes.
    @Test func everyASCIIByteAgainstTheRule() {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:@".utf8)
        for byte in UInt8(0)...UInt8(127) {
            let text = String(decoding: [byte], as: UTF8.self)
            #expect(Identifier.isValid(text) == allowed.contains(byte), "byte \(byte)")
            #expect(Identifier.isValid("id-" + text) == allowed.contains(byte), "byte \(byte) after a prefix")
        }
    }
}
