/// The module grid while a symbol is built: function patterns (finders, timing, alignment,
/// format and version areas) are marked so data placement and masking skip them.
struct QRMatrix {
    let version: Int
    let size: Int
    private(set) var dark: [Bool]
    private(set) var isFunction: [Bool]

    init(version: Int) {
        self.version = version
        size = 17 + 4 * version
        dark = [Bool](repeating: false, count: size * size)
        isFunction = [Bool](repeating: false, count: size * size)
    }

    private mutating func setFunction(x: Int, y: Int, _ isDark: Bool) {
        dark[y * size + x] = isDark
        isFunction[y * size + x] = true
    }

    /// Centres of the alignment patterns along one axis (Table E.1), computed.
    static func alignmentPositions(version: Int) -> [Int] {
        guard version > 1 else { return [] }
        let count = version / 7 + 2
        let step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
        let size = 17 + 4 * version
        return [6] + (0..<(count - 1)).map { size - 7 - $0 * step }.reversed()
    }

    mutating func drawFunctionPatterns() {
        for index in 0..<size {
            setFunction(x: 6, y: index, index % 2 == 0)
            setFunction(x: index, y: 6, index % 2 == 0)
        }
        for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] { drawFinder(centerX: x, centerY: y) }
        let positions = Self.alignmentPositions(version: version)
        for (i, y) in positions.enumerated() {
            for (j, x) in positions.enumerated() {
                let overlapsFinder = (i == 0 && j == 0) || (i == 0 && j == positions.count - 1) || (i == positions.count - 1 && j == 0)
                if !overlapsFinder { drawAlignment(centerX: x, centerY: y) }
            }
        }
        drawFormatBits(errorCorrection: .medium, mask: 0)  // reserves the area; redrawn after masking
        drawVersionBits()
    }

    /// A 7×7 finder with its light separator ring.
    private mutating func drawFinder(centerX: Int, centerY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let x = centerX + dx, y = centerY + dy
                guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                let distance = max(abs(dx), abs(dy))
                setFunction(x: x, y: y, distance != 2 && distance != 4)
            }
        }
    }

    private mutating func drawAlignment(centerX: Int, centerY: Int) {
        for dy in -2...2 {
            for dx in -2...2 { setFunction(x: centerX + dx, y: centerY + dy, max(abs(dx), abs(dy)) != 1) }
        }
    }

    /// The 15-bit format word: level and mask, BCH(15,5) with generator 0x537, XOR 0x5412.
    static func formatWord(errorCorrection: QRCode.ErrorCorrection, mask: Int) -> Int {
        let data = errorCorrection.formatBits << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// The 18-bit version word (versions 7 and up): BCH(18,6) with generator 0x1F25.
    static func versionWord(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder
    }

    mutating func drawFormatBits(errorCorrection: QRCode.ErrorCorrection, mask: Int) {
        let word = Self.formatWord(errorCorrection: errorCorrection, mask: mask)
        func bit(_ index: Int) -> Bool { (word >> index) & 1 == 1 }
        for index in 0...5 { setFunction(x: 8, y: index, bit(index)) }
        setFunction(x: 8, y: 7, bit(6))
        setFunction(x: 8, y: 8, bit(7))
        setFunction(x: 7, y: 8, bit(8))
        for index in 9..<15 { setFunction(x: 14 - index, y: 8, bit(index)) }
        for index in 0..<8 { setFunction(x: size - 1 - index, y: 8, bit(index)) }
        for index in 8..<15 { setFunction(x: 8, y: size - 15 + index, bit(index)) }
        setFunction(x: 8, y: size - 8, true)  // the dark module
    }

    private mutating func drawVersionBits() {
        guard version >= 7 else { return }
        let word = Self.versionWord(version: version)
        for index in 0..<18 {
            let isDark = (word >> index) & 1 == 1
            let a = size - 11 + index % 3, b = index / 3
            setFunction(x: a, y: b, isDark)
            setFunction(x: b, y: a, isDark)
        }
    }

    /// Places codewords in the two-column zigzag from the bottom right, skipping function modules
    /// and the vertical timing column; leftover modules (remainder bits) stay light.
    mutating func drawCodewords(_ codewords: [UInt8]) {
        var bitIndex = 0
        let totalBits = codewords.count * 8
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = (right + 1) & 2 == 0
            for vertical in 0..<size {
                for offset in 0..<2 {
                    let x = right - offset
                    let y = upward ? size - 1 - vertical : vertical
                    guard !isFunction[y * size + x], bitIndex < totalBits else { continue }
                    dark[y * size + x] = (codewords[bitIndex >> 3] >> UInt8(7 - bitIndex & 7)) & 1 == 1
                    bitIndex += 1
                }
            }
            right -= 2
        }
    }

    static func maskCondition(_ mask: Int, row: Int, column: Int) -> Bool {
        switch mask {
        case 0: (row + column) % 2 == 0
        case 1: row % 2 == 0
        case 2: column % 3 == 0
        case 3: (row + column) % 3 == 0
        case 4: (row / 2 + column / 3) % 2 == 0
        case 5: row * column % 2 + row * column % 3 == 0
        case 6: (row * column % 2 + row * column % 3) % 2 == 0
        default: ((row + column) % 2 + row * column % 3) % 2 == 0
        }
    }

    mutating func applyMask(_ mask: Int) {
        for row in 0..<size {
            for column in 0..<size where !isFunction[row * size + column] && Self.maskCondition(mask, row: row, column: column) {
                dark[row * size + column].toggle()
            }
        }
    }

    /// The mask-selection penalty (ISO/IEC 18004 §7.8.3): runs, 2×2 blocks, finder-like
    /// patterns, dark/light balance.
    func penalty() -> Int {
        var total = 0
        func line(_ index: Int, _ position: Int, rows: Bool) -> Bool {
            rows ? dark[index * size + position] : dark[position * size + index]
        }
        let finderLike: [[Bool]] = [
            [true, false, true, true, true, false, true, false, false, false, false],
            [false, false, false, false, true, false, true, true, true, false, true],
        ]
        for rows in [true, false] {
            for index in 0..<size {
                var run = 1
                for position in 1..<size {
                    if line(index, position, rows: rows) == line(index, position - 1, rows: rows) {
                        run += 1
                        if run == 5 { total += 3 } else if run > 5 { total += 1 }
                    } else {
                        run = 1
                    }
                }
                for start in 0...(size - 11) {
                    for pattern in finderLike where (0..<11).allSatisfy({ line(index, start + $0, rows: rows) == pattern[$0] }) {
                        total += 40
                    }
                }
            }
        }
        for row in 0..<(size - 1) {
            for column in 0..<(size - 1) {
                let value = dark[row * size + column]
                if value == dark[row * size + column + 1] && value == dark[(row + 1) * size + column]
                    && value == dark[(row + 1) * size + column + 1]
                {
                    total += 3
                }
            }
        }
        let darkCount = dark.reduce(0) { $0 + ($1 ? 1 : 0) }
        let cells = size * size
        let k = (abs(darkCount * 20 - cells * 10) + cells - 1) / cells - 1
        total += k * 10
        return total
    }
}
