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

    /// The index of the first `byte` at or after `start` (memchr: the target before the
    /// version is the longest stretch of a request line).
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let found = memchr(bytes.baseAddress! + start, Int32(byte), bytes.count - start) else { return nil }
        return start + UnsafeRawPointer(bytes.baseAddress! + start).distance(to: UnsafeRawPointer(found))
    }

    /// tchar as a table lookup (one load per byte; `isTokenByte` is the readable rule).
    @inline(__always)
    static func isTokenByteFast(_ byte: UInt8) -> Bool {
        tokenTable[Int(byte)] != 0
    }

    /// 1 for each tchar byte, else 0. A literal, so the array is laid out at compile time: no
    /// lazy initialisation, and no bounds check for a `UInt8` index.
    static let tokenTable: [UInt8] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0x00
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0x10
        0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0,  // 0x20
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,  // 0x30
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // 0x40
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,  // 0x50
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // 0x60
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,  // 0x70
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0x80
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0x90
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xA0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xB0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xC0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xD0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xE0
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 0xF0
    ]

    /// The length of the field name at `start`: the index of its `:` when every byte before it
    /// is a tchar, nil otherwise (or when no `:` comes before `count`). The scan stops at the
    /// first byte that is not a tchar, one table load per byte; a valid name stops at its `:`.
    @inline(__always)
    static func fieldNameLength(_ start: UnsafePointer<UInt8>, count: Int) -> Int? {
        var index = 0
        while index < count && tokenTable[Int(start[index])] != 0 { index += 1 }
        return index < count && start[index] == UInt8(ascii: ":") ? index : nil
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

    /// Every byte is `isFieldValueByte`: the control bytes found eight at a time, and a tab the
    /// only one allowed.
    @inline(__always)
    static func allFieldValueBytes(_ start: UnsafePointer<UInt8>, count: Int) -> Bool {
        var index = 0
        while true {
            index += firstControlByte(start + index, count: count - index)
            if index == count { return true }
            if start[index] != 0x09 { return false }
            index += 1
        }
    }

    /// The index of the first byte below 0x20 or equal to 0x7F (`count` if none), eight bytes at
    /// a time: a word with no such byte is skipped whole. The lowest flag a word raises is exact
    /// (a borrow only raises false flags above a true one).
    @inline(__always)
    static func firstControlByte(_ start: UnsafePointer<UInt8>, count: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        while index + 8 <= count {
            let word = UInt64(littleEndian: UnsafeRawPointer(start + index).loadUnaligned(as: UInt64.self))
            let below20 = (word &- ones &* 0x20) & ~word & highs
            let del = word ^ (ones &* 0x7F)
            let is7F = (del &- ones) & ~del & highs
            let flags = below20 | is7F
            if flags != 0 { return index + flags.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < count && start[index] >= 0x20 && start[index] != 0x7F { index += 1 }
        return index
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
