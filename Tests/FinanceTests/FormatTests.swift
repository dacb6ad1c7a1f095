import Testing

@testable import Finance

@Suite struct FormatTests {
    @Test func ratiosAreFixedPointAndExact() {
        #expect(Ratio.format(1, 3) == "0.3333")
        #expect(Ratio.format(2, 3) == "0.6667")
        #expect(Ratio.format(152_000, 15_000) == "10.1333")
        #expect(Ratio.format(5, 10) == "0.5000")
        #expect(Ratio.format(0, 7) == "0.0000")
        #expect(Ratio.format(1, 0) == nil)
        #expect(Ratio.format(-1, 3) == "-0.3333")
        #expect(Ratio.format(1, 20_000) == "0.0001")
        #expect(Ratio.format(1, 20_001) == "0.0000")
        #expect(Ratio.format(Int64.max, 1) == "9223372036854775807.0000")
    }

    @Test func csvFieldsFollowRFC4180() {
        #expect(CSV.field("CNY") == "CNY")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\r\nlines") == "\"two\r\nlines\"")
        #expect(CSV.field("") == "")
    }

    @Test func dateShapes() {
        #expect(ReportPeriod.isDateShape("2024-01-31"))
        #expect(!ReportPeriod.isDateShape("2024-1-31"))
        #expect(!ReportPeriod.isDateShape("2024/01/31"))
        #expect(!ReportPeriod.isDateShape("２０２４-01-31"))
    }
}
