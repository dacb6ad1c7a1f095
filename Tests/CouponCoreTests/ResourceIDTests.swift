import CouponCore
import Testing

@Suite struct ResourceIDTests {
    @Test func canonicalDecimalsParse() {
        #expect(ResourceID.parse("6") == 6)
        #expect(ResourceID.parse("1234567890") == 1_234_567_890)
        #expect(ResourceID.parse("9223372036854775807") == Int64.max)
    }

    /// Spellings that some integer parsers accept must not alias a real id.
    @Test(arguments: ["", "0", "06", "+6", "-6", " 6", "6 ", "6a", "0x6", "٦", "9223372036854775808", "99999999999999999999", "1e3", "6.0"])
    func otherSpellingsAreRefused(_ text: String) {
        #expect(ResourceID.parse(text) == nil, "\(text)")
    }
}
