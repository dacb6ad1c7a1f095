import Testing

@testable import CouponCore

@Suite struct RFC3339Tests {
    /// Known answers (checked against `date -u -d ... +%s%3N`).
    static let known: [(String, Int64)] = [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-23T00:00:00Z", 1_795_392_000_000),
        ("2026-12-31T23:59:59Z", 1_798_761_599_000),
        ("2000-02-29T12:34:56.789Z", 951_827_696_789),
        ("1969-12-31T23:59:59.999Z", -1),
        ("1900-01-01T00:00:00Z", -2_208_988_800_000),
        ("2038-01-19T03:14:08Z", 2_147_483_648_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ("0000-01-01T00:00:00Z", -62_167_219_200_000),
    ]

    @Test(arguments: known)
    func knownAnswers(_ text: String, _ epochMs: Int64) {
        #expect(RFC3339.parse(text) == epochMs)
        #expect(RFC3339.format(epochMs: epochMs) == text)
    }

    @Test func offsetsAndFractions() {
        #expect(RFC3339.parse("2026-11-23T08:00:00+08:00") == 1_795_392_000_000)
        #expect(RFC3339.parse("2026-11-22T19:00:00-05:00") == 1_795_392_000_000)
        #expect(RFC3339.parse("2026-11-23T05:30:00+05:30") == 1_795_392_000_000)
        #expect(RFC3339.parse("2026-11-23T00:00:00-00:00") == 1_795_392_000_000)
        #expect(RFC3339.parse("2026-11-23t00:00:00z") == 1_795_392_000_000)
        #expect(RFC3339.parse("1970-01-01T00:00:00.5Z") == 500)
        #expect(RFC3339.parse("1970-01-01T00:00:00.12Z") == 120)
        #expect(RFC3339.parse("1970-01-01T00:00:00.123999999Z") == 123)  // truncated, not rounded
        #expect(RFC3339.format(epochMs: 1_500) == "1970-01-01T00:00:01.500Z")
        #expect(RFC3339.format(epochMs: 7) == "1970-01-01T00:00:00.007Z")
        #expect(RFC3339.format(epochMs: 40) == "1970-01-01T00:00:00.040Z")
        // Years outside 0...9999 (formatted, never parsed: a claim never meets them).
        #expect(RFC3339.format(epochMs: 253_402_300_800_000) == "10000-01-01T00:00:00Z")
        #expect(RFC3339.format(epochMs: -62_167_305_600_000) == "-0001-12-31T00:00:00Z")
    }

    static let garbage: [String] = [
        "", "2026", "2026-11-23", "2026-11-23T00:00:00", "2026-11-23 00:00:00Z", "2026-11-23T00:00Z",
        "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T23:60:00Z",
        "2026-11-23T23:59:60Z", "2026-11-23T00:00:00.Z", "2026-11-23T00:00:00+8:00", "2026-11-23T00:00:00+08",
        "2026-11-23T00:00:00+0800", "2026-11-23T00:00:00+24:00", "2026-11-23T00:00:00Zjunk", " 2026-11-23T00:00:00Z",
        "2026-1-23T00:00:00Z", "+2026-11-23T00:00:00Z", "２０２６-11-23T00:00:00Z", "2026-11-23T00:00:00GMT",
    ]

    @Test(arguments: garbage)
    func rejectsGarbage(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func leapYearsAndRoundTripSweep() {
        #expect(RFC3339.parse("2024-02-29T00:00:00Z") != nil)
        #expect(RFC3339.parse("2000-02-29T00:00:00Z") != nil)
        // Every day across four centuries (incl. pre-1970) formats and parses back.
        var day: Int64 = -150_000
        while day < 150_000 {
            let ms = day * 86_400_000 + 45_296_789
            #expect(RFC3339.parse(RFC3339.format(epochMs: ms)) == ms)
            day += 37
        }
    }
}
