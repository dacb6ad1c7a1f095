import Testing

@testable import QRCode

/// Known answers from ISO/IEC 18004 and its widely reproduced worked examples.
@Suite struct QRCodeTests {
    /// "HELLO WORLD" as 1-M data codewords and the 10 EC codewords the standard's procedure gives.
    @Test func reedSolomonKnownAnswer() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        let ec = ReedSolomon.remainder(data, divisor: ReedSolomon.generator(degree: 10))
        #expect(ec == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test func fieldMultiplication() {
        #expect(ReedSolomon.multiply(0x02, 0x80) == 0x1D)  // α⁸ = x⁴+x³+x²+1
        #expect(ReedSolomon.multiply(0x53, 0xCA) == 0x8F)
        #expect(ReedSolomon.multiply(0, 0xFF) == 0)
        #expect(ReedSolomon.multiply(1, 0xAB) == 0xAB)
    }

    @Test func formatAndVersionWords() {
        #expect(QRMatrix.formatWord(errorCorrection: .medium, mask: 0) == 0b101010000010010)
        #expect(QRMatrix.formatWord(errorCorrection: .low, mask: 4) == 0b110011000101111)
        #expect(QRMatrix.formatWord(errorCorrection: .high, mask: 1) == 0b001001110111110)
        #expect(QRMatrix.formatWord(errorCorrection: .high, mask: 7) == 0b000100000111011)
        #expect(QRMatrix.versionWord(version: 7) == 0b000111110010010100)
        #expect(QRMatrix.versionWord(version: 40) == 0b101000110001101001)
    }

    /// Table E.1.
    @Test func alignmentPatternCentres() {
        #expect(QRMatrix.alignmentPositions(version: 1) == [])
        #expect(QRMatrix.alignmentPositions(version: 2) == [6, 18])
        #expect(QRMatrix.alignmentPositions(version: 7) == [6, 22, 38])
        #expect(QRMatrix.alignmentPositions(version: 32) == [6, 34, 60, 86, 112, 138])
        #expect(QRMatrix.alignmentPositions(version: 40) == [6, 30, 58, 86, 114, 142, 170])
    }

    /// Byte-mode capacities of Table 7, versions 1–10 and 40, every level.
    @Test func byteCapacities() {
        let expected: [QRCode.ErrorCorrection: [Int]] = [
            .low: [17, 32, 53, 78, 106, 134, 154, 192, 230, 271],
            .medium: [14, 26, 42, 62, 84, 106, 122, 152, 180, 213],
            .quartile: [11, 20, 32, 46, 60, 74, 86, 108, 130, 151],
            .high: [7, 14, 24, 34, 44, 58, 64, 84, 98, 119],
        ]
        for (level, capacities) in expected {
            #expect((1...10).map { QRCode.byteCapacity(version: $0, errorCorrection: level) } == capacities, "\(level)")
        }
        #expect(QRCode.ErrorCorrection.allCases.map { QRCode.byteCapacity(version: 40, errorCorrection: $0) } == [2953, 2331, 1663, 1273])
    }

    /// Every version's blocks hold exactly its codewords.
    @Test func blockTablesAreConsistent() {
        for version in 1...40 {
            #expect(QRBlocks.rawDataModules(version: version) / 8 >= 26)
            for level in QRCode.ErrorCorrection.allCases {
                let data = [UInt8](repeating: 0xA5, count: QRBlocks.dataCodewordCount(version: version, errorCorrection: level))
                #expect(QRBlocks.interleaved(data, version: version, errorCorrection: level).count == QRBlocks.rawDataModules(version: version) / 8)
            }
        }
    }

    @Test func smallestVersionIsChosen() throws {
        #expect(try QRCode.encode(String(repeating: "A", count: 14)).version == 1)
        let coupon = try QRCode.encode("4XG7CFWWSGV8YQ9M")  // a 16-character coupon code
        #expect(coupon.version == 2)
        #expect(coupon.size == 25)
        #expect(try QRCode.encode(String(repeating: "B", count: 213)).version == 10)
        #expect(throws: QRCode.EncodingError.tooLong(count: 2332, capacity: 2331)) {
            try QRCode.encode([UInt8](repeating: 1, count: 2332))
        }
    }

    /// "HELLO WORLD" in byte mode, 1-M: mode 0100, count 00001011, the bytes, terminator, padding.
    @Test func byteModeDataCodewords() {
        let data = QRCode.dataCodewords(Array("HELLO WORLD".utf8), version: 1, errorCorrection: .medium)
        #expect(data == [0x40, 0xB4, 0x84, 0x54, 0xC4, 0xC4, 0xF2, 0x05, 0x74, 0xF5, 0x24, 0xC4, 0x40, 0xEC, 0x11, 0xEC])
    }

    @Test func finderPatternsAndFormatCopiesAgree() throws {
        let symbol = try QRCode.encode("4XG7CFWWSGV8YQ9M")
        let n = symbol.size
        for (row, column) in [(0, 0), (0, n - 7), (n - 7, 0)] {
            // Outer ring dark, second ring light, 3×3 core dark.
            #expect(symbol.isDark(row: row, column: column) && symbol.isDark(row: row + 6, column: column + 6))
            #expect(!symbol.isDark(row: row + 1, column: column + 1) && symbol.isDark(row: row + 3, column: column + 3))
        }
        #expect(symbol.isDark(row: n - 8, column: 8))  // the dark module
        // Both copies of the format word carry the level and the chosen mask.
        let word = QRMatrix.formatWord(errorCorrection: .medium, mask: symbol.mask)
        var first = 0, second = 0
        let firstCells = (0...5).map { (row: $0, column: 8) } + [(row: 7, column: 8), (row: 8, column: 8), (row: 8, column: 7)] + (9..<15).map { (row: 8, column: 14 - $0) }
        let secondCells = (0..<8).map { (row: 8, column: n - 1 - $0) } + (8..<15).map { (row: n - 15 + $0, column: 8) }
        for (index, cell) in firstCells.enumerated() where symbol.isDark(row: cell.row, column: cell.column) { first |= 1 << index }
        for (index, cell) in secondCells.enumerated() where symbol.isDark(row: cell.row, column: cell.column) { second |= 1 << index }
        #expect(first == word)
        #expect(second == word)
    }

    @Test func svgHasQuietZoneAndOnePath() throws {
        let svg = try QRCode.encode("A").svg(moduleSize: 10, quietZone: 4)
        #expect(svg.contains(#"viewBox="0 0 29 29""#))
        #expect(svg.contains(#"width="290""#))
        #expect(svg.contains("M4,4h7v1h-7z"))  // the top finder's first row starts inside the quiet zone
    }
}
