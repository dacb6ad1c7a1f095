import Glibc

/// Character classes and small grammars from RFC 9110 / 9112, shared by the request and
/// response parsers.
enum HTTPSyntax {
    /// Byte equality with an ASCII literal (memcmp; no collection iteration).
    @inline(__always)
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        bytes.count == literal.utf8CodeUnitCount
            && (bytes.count == 0 || memcmp(bytes.baseAddress!, literal.utf8Start, bytes.count) == 0)
    }

    /// Byte equality of two buffers (memcmp).
    @inline(__always)
    static func equals(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
        lhs.count == rhs.count && (lhs.count == 0 || memcmp(lhs.baseAddress!, rhs.baseAddress!, lhs.count) == 0)
    }

    /// tchar as a bitmap (bytes 0...63 and 64...127): one shift and mask per byte.
    @inline(__always)
    static func isTokenByteFast(_ byte: UInt8) -> Bool {
        tokenBit(byte) != 0
    }

    /// 1 for a tchar, else 0, without a branch (the half of the bitmap is picked by a select).
    @inline(__always)
    static func tokenBit(_ byte: UInt8) -> UInt64 {
        let bitmap: UInt64 = byte < 64 ? 0x03ff_6cfa_0000_0000 : (byte < 128 ? 0x57ff_ffff_c7ff_fffe : 0)
        return (bitmap >> UInt64(byte & 63)) & 1
    }

    /// Where the field name ends: the index of the first `:` (nil if none), and whether every
    /// byte before it is a tchar. One pass, no early exit on a bad byte (none in real heads).
    @inline(__always)
    static func scanFieldName(_ start: UnsafePointer<UInt8>, count: Int) -> (colon: Int, allToken: Bool)? {
        var index = 0
        var valid: UInt64 = 1
        while index < count {
            let byte = start[index]
            if byte == UInt8(ascii: ":") { return (index, valid != 0) }
            valid &= tokenBit(byte)
            index += 1
        }
        return nil
    }

    /// Every byte is visible ASCII (0x21...0x7E), as a request target's must be: the largest
    /// `byte - 0x21` (wrapping) is below 0x5E. A max over the bytes, no branch per byte.
    @inline(__always)
    static func allVisibleASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var highest: UInt8 = 0
        for byte in bytes { highest = max(highest, byte &- 0x21) }
        return highest < 0x5E
    }

    /// tchar: "!#$%&'*+-.^_`|~", digits and letters.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// field-vchar / SP / HTAB / obs-text; no other control characters (NUL, CR, DEL, ...).
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// Every byte is `isFieldValueByte`, checked eight at a time: a word with no byte below
    /// 0x20 (obs-text ≥ 0x80 is allowed) and no 0x7F passes whole; any other word (a tab,
    /// say) is checked byte by byte.
    @inline(__always)
    static func allFieldValueBytes(_ start: UnsafePointer<UInt8>, count: Int) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        while index + 8 <= count {
            let word = UnsafeRawPointer(start + index).loadUnaligned(as: UInt64.self)
            let below20 = (word &- ones &* 0x20) & ~word & highs
            let del = word ^ (ones &* 0x7F)
            let is7F = (del &- ones) & ~del & highs
            if below20 | is7F != 0 {
                for offset in 0..<8 where !isFieldValueByte(start[index + offset]) { return false }
            }
            index += 8
        }
        while index < count {
            if !isFieldValueByte(start[index]) { return false }
            index += 1
        }
        return true
    }

    enum VersionParse: Equatable {
        case supported(HTTPVersion)
        case unsupported
        case malformed
    }

    /// `HTTP/1.1` and `HTTP/1.0` are supported; any other `HTTP/<digit>[.<digit>]` is
    /// well-formed but unsupported (505); everything else is malformed (400).
    static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) -> VersionParse {
        guard bytes.count >= 6, equals(UnsafeBufferPointer(rebasing: bytes[0..<5]), "HTTP/") else { return .malformed }
        let rest = UnsafeBufferPointer(rebasing: bytes[5...])
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        if rest.count == 3, isDigit(rest[0]), rest[1] == UInt8(ascii: "."), isDigit(rest[2]) {
            if rest[0] == UInt8(ascii: "1") && rest[2] == UInt8(ascii: "1") { return .supported(.http1_1) }
            if rest[0] == UInt8(ascii: "1") && rest[2] == UInt8(ascii: "0") { return .supported(.http1_0) }
            return .unsupported
        }
        if rest.count == 1, isDigit(rest[0]), rest[0] >= UInt8(ascii: "2") { return .unsupported }
        return .malformed
    }

    /// 1 to 18 ASCII digits; no sign, spaces or lists.
    static func parseContentLength(_ value: String) -> Int? {
        var value = value
        return value.withUTF8 { parseContentLength($0) }
    }

    static func parseContentLength(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
        var result = 0
        var digits = 0
        for byte in value {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            digits += 1
            if digits > 18 { return nil }
            result = result * 10 + Int(byte - 0x30)
        }
        return digits == 0 ? nil : result
    }
}
