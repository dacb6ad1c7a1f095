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

    /// Bytes `append(to:)` writes.
    var byteCount: Int {
        switch self {
        case .string(let text): return text.utf8.count
        case .bytes(let bytes): return bytes.count
        case .int(let value):
            var count = value < 0 ? 2 : 1
            var magnitude = value.magnitude
            while magnitude >= 10 {
                magnitude /= 10
                count += 1
            }
            return count
        }
    }

    /// Appends `value` in decimal (as `String(value)` spells it).
    public static func appendDecimal(_ value: Int64, to buffer: inout [UInt8]) {
        if value == 0 { buffer.append(UInt8(ascii: "0")); return }
        var magnitude = value.magnitude
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var start = buffer.count
        while magnitude > 0 {
            buffer.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        var end = buffer.count - 1  // reversed in place (a slice's `reverse()` may copy the buffer)
        while start < end {
            buffer.swapAt(start, end)
            start += 1
            end -= 1
        }
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

/// One connection's command buffer (confined to its loop), kept between commands, so laying
/// out a command allocates nothing once it has grown to the usual size.
final class CommandBuffer {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1024) }

    /// Lends `body` the command in RESP (`*N`, then `$len` and the bytes of each argument), as
    /// `redisAsyncFormattedCommand` takes it: hiredis then formats nothing itself.
    func withRESP<R>(_ args: [RedisArgument], _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
        // Laid out in a local (swapped out of the class and back): a class property's every
        // mutation would be checked for exclusive access at run time.
        var buffer: [UInt8] = []
        swap(&buffer, &bytes)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(UInt8(ascii: "*"))
        RedisArgument.appendDecimal(Int64(args.count), to: &buffer)
        buffer.append(0x0D)
        buffer.append(0x0A)
        for arg in args {
            buffer.append(UInt8(ascii: "$"))
            RedisArgument.appendDecimal(Int64(arg.byteCount), to: &buffer)
            buffer.append(0x0D)
            buffer.append(0x0A)
            arg.append(to: &buffer)
            buffer.append(0x0D)
            buffer.append(0x0A)
        }
        defer {
            if buffer.capacity > 1 << 20 { buffer = [] }  // a huge command does not pin its buffer
            swap(&buffer, &bytes)
        }
        return buffer.withUnsafeBufferPointer { pointer in
            body(UnsafeRawPointer(pointer.baseAddress!).assumingMemoryBound(to: CChar.self), pointer.count)
        }
    }
}
