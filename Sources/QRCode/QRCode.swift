/// QR Code Model 2 symbols (ISO/IEC 18004) in byte mode: picks the smallest version that
/// holds the data at the asked error-correction level, adds Reed–Solomon codewords, places
/// them and chooses the mask with the lowest penalty. Pure: no I/O, no Foundation.
/// Owns the symbol's geometry; rendering lives in `QRCode+SVG.swift`.
public struct QRCode: Sendable, Equatable {
    public enum ErrorCorrection: Int, Sendable, CaseIterable {
        // Raw value: index into the block tables; `formatBits`: the two bits of the format word.
        case low = 0, medium, quartile, high

        var formatBits: Int { [1, 0, 3, 2][rawValue] }
    }

    public enum EncodingError: Error, Equatable {
        /// More bytes than version 40 holds at this level.
        case tooLong(count: Int, capacity: Int)
    }

    public let version: Int
    public let errorCorrection: ErrorCorrection
    public let mask: Int
    /// Modules per side: 17 + 4 × version.
    public let size: Int
    /// Row-major, `true` = dark.
    public let modules: [Bool]

    public func isDark(row: Int, column: Int) -> Bool { modules[row * size + column] }

    /// Encodes `bytes` in byte mode in the smallest version that fits.
    public static func encode(_ bytes: [UInt8], errorCorrection: ErrorCorrection = .medium) throws(EncodingError) -> QRCode {
        guard let version = (1...40).first(where: { byteCapacity(version: $0, errorCorrection: errorCorrection) >= bytes.count }) else {
            throw .tooLong(count: bytes.count, capacity: byteCapacity(version: 40, errorCorrection: errorCorrection))
        }
        let data = dataCodewords(bytes, version: version, errorCorrection: errorCorrection)
        let codewords = QRBlocks.interleaved(data, version: version, errorCorrection: errorCorrection)
        var matrix = QRMatrix(version: version)
        matrix.drawFunctionPatterns()
        matrix.drawCodewords(codewords)
        var best: (mask: Int, penalty: Int, matrix: QRMatrix)?
        for mask in 0..<8 {
            var candidate = matrix
            candidate.applyMask(mask)
            candidate.drawFormatBits(errorCorrection: errorCorrection, mask: mask)
            let penalty = candidate.penalty()
            if best == nil || penalty < best!.penalty { best = (mask, penalty, candidate) }
        }
        let chosen = best!
        return QRCode(
            version: version, errorCorrection: errorCorrection, mask: chosen.mask, size: chosen.matrix.size,
            modules: chosen.matrix.dark)
    }

    public static func encode(_ text: String, errorCorrection: ErrorCorrection = .medium) throws(EncodingError) -> QRCode {
        try encode(Array(text.utf8), errorCorrection: errorCorrection)
    }

    /// Bytes a byte-mode segment can hold in `version` at `errorCorrection`.
    public static func byteCapacity(version: Int, errorCorrection: ErrorCorrection) -> Int {
        let bits = QRBlocks.dataCodewordCount(version: version, errorCorrection: errorCorrection) * 8
        return (bits - 4 - characterCountBits(version: version)) / 8
    }

    static func characterCountBits(version: Int) -> Int { version <= 9 ? 8 : 16 }

    /// Mode indicator, count, bytes, terminator, then 0xEC/0x11 padding to the version's data length.
    static func dataCodewords(_ bytes: [UInt8], version: Int, errorCorrection: ErrorCorrection) -> [UInt8] {
        let capacityBits = QRBlocks.dataCodewordCount(version: version, errorCorrection: errorCorrection) * 8
        var bits = BitBuffer()
        bits.append(0b0100, count: 4)  // byte mode
        bits.append(bytes.count, count: characterCountBits(version: version))
        for byte in bytes { bits.append(Int(byte), count: 8) }
        bits.append(0, count: min(4, capacityBits - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var codewords = bits.bytes
        var pad: UInt8 = 0xEC
        while codewords.count * 8 < capacityBits {
            codewords.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return codewords
    }
}

/// Bits appended most significant first.
struct BitBuffer {
    private(set) var bits: [Bool] = []
    var count: Int { bits.count }

    mutating func append(_ value: Int, count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> shift) & 1 == 1) }
    }

    var bytes: [UInt8] {
        stride(from: 0, to: bits.count, by: 8).map { start in
            var byte: UInt8 = 0
            for offset in 0..<8 where start + offset < bits.count && bits[start + offset] { byte |= 0x80 >> UInt8(offset) }
            return byte
        }
    }
}
