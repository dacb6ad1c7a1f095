import Glibc

/// An error from a system call: the errno it set and the function that failed.
public struct IOError: Error, CustomStringConvertible, Sendable, Equatable {
    public let errnoCode: Int32
    public let function: String

    public init(errnoCode: Int32, function: String) {
        self.errnoCode = errnoCode
        self.function = function
    }

    public var description: String {
        "\(function) failed: \(String(cString: strerror(errnoCode))) (errno \(errnoCode))"
    }
}

/// What a non-blocking system call did.
public enum IOResult<Value: Sendable>: Sendable {
    case processed(Value)
    case wouldBlock
}

/// The one way this code base calls into the kernel: retries `EINTR`, turns `EAGAIN` into
/// `.wouldBlock` and every other failure into an `IOError` naming the function.
public enum Syscall {
    @inline(__always)
    public static func call(_ function: String, _ body: () -> Int) throws(IOError) -> IOResult<Int> {
        while true {
            let result = body()
            if result >= 0 { return .processed(result) }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            default: throw IOError(errnoCode: code, function: function)
            }
        }
    }

    /// For calls that never legitimately block (epoll_ctl, close, ...).
    @inline(__always)
    @discardableResult
    public static func blocking(_ function: String, _ body: () -> Int32) throws(IOError) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw IOError(errnoCode: code, function: function)
        }
    }
}

/// Monotonic time in nanoseconds.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The same clock in seconds (background tasks' pacing and policies).
    public static func seconds() -> Double { Double(now()) / 1e9 }
}
