/// One argument of a Redis command, sent binary-safe. String and integer literals convert
/// implicitly: `["INCRBY", "counter", 5]`.
public enum RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByStringInterpolation
{
    case string(String)
    case bytes([UInt8])
    case int(Int64)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }

    /// Appends the wire bytes of this argument.
    @inline(__always)
    func append(to buffer: inout [UInt8]) {
        switch self {
        case .string(let text): buffer.append(contentsOf: text.utf8)
        case .bytes(let bytes): buffer.append(contentsOf: bytes)
        case .int(let value): Self.appendDecimal(value, to: &buffer)
        }
    }

    static func appendDecimal(_ value: Int64, to buffer: inout [UInt8]) {
        if value == 0 { buffer.append(UInt8(ascii: "0")); return }
        var magnitude = value.magnitude
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        let start = buffer.count
        while magnitude > 0 {
            buffer.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        buffer[start...].reverse()
    }
}

/// Lays out a command's arguments in one contiguous buffer and lends hiredis the
/// `argc` / `argv` / `argvlen` triple the `...Argv` functions take.
@inline(__always)
func withArgv<R>(
    _ args: [RedisArgument],
    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
) -> R {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(args.count * 16)
    var ends: [Int] = []
    ends.reserveCapacity(args.count)
    for arg in args {
        arg.append(to: &bytes)
        ends.append(bytes.count)
    }
    bytes.append(0)  // never an empty buffer, so baseAddress is never nil
    return bytes.withUnsafeBufferPointer { buffer in
        let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(args.count, 1))
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: max(args.count, 1))
        defer {
            argv.deallocate()
            lengths.deallocate()
        }
        var start = 0
        for (index, end) in ends.enumerated() {
            argv[index] = base + start
            lengths[index] = end - start
            start = end
        }
        return body(Int32(args.count), argv, UnsafePointer(lengths))
    }
}
