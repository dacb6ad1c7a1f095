#if canImport(Glibc)
import Glibc
#endif

/// Coupon codes: 80 random bits from the system CSPRNG, written as 16 Crockford base32
/// characters (no I, L, O, U), so a code is short to read out and hard to guess.
public struct CouponCode: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    public static let length = 16

    /// A new random code. `SystemRandomNumberGenerator` reads getrandom(2) on Linux.
    public static func random() -> CouponCode {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> CouponCode {
        let high = generator.next() as UInt64  // 64 bits
        let low = UInt64(generator.next() as UInt16)  // 16 bits
        // Written straight into the code's `String` (one allocation: 16 bytes are not a small string).
        let value = String(unsafeUninitializedCapacity: length) { bytes in
            // 80 bits = 16 groups of 5: the first 12 from `high` (60 bits), then 4 more bits of
            // `high` joined with the 16 bits of `low`.
            for index in 0..<12 {
                bytes[index] = alphabet[Int((high >> UInt64(59 - 5 * index)) & 31)]
            }
            let tail = ((high & 0xF) << 16) | low  // 20 bits
            for index in 0..<4 {
                bytes[12 + index] = alphabet[Int((tail >> UInt64(15 - 5 * index)) & 31)]
            }
            return length
        }
        return CouponCode(uncheckedValue: value)
    }

    init(uncheckedValue: String) { value = uncheckedValue }

    /// Parses a code typed by a person: case-insensitive, `-` and spaces ignored, and the
    /// Crockford substitutions I/L → 1, O → 0 applied. Nil when it cannot be a code.
    public init?(parsing text: String) {
        var out: [UInt8] = []
        out.reserveCapacity(Self.length)
        for byte in text.utf8 {
            var c = byte
            if c == UInt8(ascii: "-") || c == UInt8(ascii: " ") { continue }
            if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 32 }
            if c == UInt8(ascii: "I") || c == UInt8(ascii: "L") { c = UInt8(ascii: "1") }
            if c == UInt8(ascii: "O") { c = UInt8(ascii: "0") }
            guard Self.alphabet.contains(c), out.count < Self.length else { return nil }
            out.append(c)
        }
        guard out.count == Self.length else { return nil }
        value = String(decoding: out, as: UTF8.self)
    }

    public var description: String { value }
}

/// Numeric resource ids (campaigns, templates) as they appear in paths and queries: only the
/// canonical decimal form `[1-9][0-9]*` within Int64, so `+6`, `06` and ` 6` never alias `6`.
public enum ResourceID {
    public static func parse<S: StringProtocol>(_ text: S) -> Int64? {
        let utf8 = text.utf8
        guard let first = utf8.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"), utf8.count <= 19 else { return nil }
        var value: Int64 = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow, !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}

/// Identifiers that callers choose (user ids, request ids, order ids, SKUs, business lines,
/// store ids): 1...128 bytes of `A-Z a-z 0-9 _ - . : @`, so they are safe as Redis key parts
/// and in logs.
public enum Identifier {
    public static let maxLength = 128
    /// The rule as a validation message.
    public static let rule = "must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @"

    public static func isValid(_ text: String) -> Bool {
        var text = text
        // The string's own bytes (no copy for a native string), not the generic UTF-8 view.
        return text.withUTF8 { bytes in
            guard (1...maxLength).contains(bytes.count) else { return false }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
                    UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"):
                    continue
                default:
                    return false
                }
            }
            return true
        }
    }
}

/// Makes coupon codes from kernel randomness read 4 KiB at a time from /dev/urandom (the
/// kernel CSPRNG that `SystemRandomNumberGenerator` reads 8 bytes per system call), so a
/// claim costs no system call for its code. Not thread-safe: keep one per event loop.
public final class CouponCodeGenerator: RandomNumberGenerator {
    private var buffer = [UInt64](repeating: 0, count: 512)
    private var position = 512

    public init() {}

    public func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    private static let urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    private func refill() {
        let filled = buffer.withUnsafeMutableBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let count = read(Self.urandom, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        if !filled {
            // Only if /dev/urandom is missing (a broken chroot): stay correct, just slower.
            var system = SystemRandomNumberGenerator()
            for index in buffer.indices { buffer[index] = system.next() }
        }
        position = 0
    }

    public func code() -> CouponCode {
        var generator = self
        return CouponCode.random(using: &generator)
    }
}
