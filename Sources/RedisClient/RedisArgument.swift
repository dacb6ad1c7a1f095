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

/// `withArgv` with buffers kept between commands: one per connection (confined to its loop),
/// so laying out a command allocates nothing once the buffers have grown to the usual size.
final class ArgvScratch {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var argv: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private var lengths: UnsafeMutablePointer<Int>
    private var capacity: Int

    init(capacity: Int = 32) {
        self.capacity = capacity
        argv = .allocate(capacity: capacity)
        lengths = .allocate(capacity: capacity)
        bytes.reserveCapacity(1024)
        ends.reserveCapacity(capacity)
    }

    deinit {
        argv.deallocate()
        lengths.deallocate()
    }

    func withArgv<R>(
        _ args: [RedisArgument],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        for arg in args {
            arg.append(to: &bytes)
            ends.append(bytes.count)
        }
        bytes.append(0)  // never an empty buffer, so baseAddress is never nil
        if args.count > capacity {
            argv.deallocate()
            lengths.deallocate()
            capacity = args.count
            argv = .allocate(capacity: capacity)
            lengths = .allocate(capacity: capacity)
        }
        defer {
            // A huge command (a bulk batch) does not pin its buffer for the connection's life.
            if bytes.capacity > 1 << 20 { bytes = [] }
            if ends.capacity > 4096 { ends = [] }
        }
        return bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var start = 0
            for (index, end) in ends.enumerated() {
                argv[index] = base + start
                lengths[index] = end - start
                start = end
            }
            return body(Int32(args.count), argv, UnsafePointer(lengths))
        }
    }
}
