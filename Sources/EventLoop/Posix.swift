import CSystem
import Glibc

/// Named wrappers for every system call the event loop and the HTTP server make (swift-nio's
/// `Posix` enum): each goes through `Syscall`, so `EINTR` is retried, `EAGAIN` becomes
/// `.wouldBlock` and anything else an `IOError` naming the call.
public enum Posix {
    // MARK: Sockets and descriptors

    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.call("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    @inline(__always)
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.call("write") { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    }

    /// Gathering send without SIGPIPE.
    @inline(__always)
    public static func sendmsg(_ fd: Int32, _ vectors: UnsafeBufferPointer<iovec>) throws(IOError) -> IOResult<Int> {
        try Syscall.call("sendmsg") {
            var message = msghdr()
            message.msg_iov = UnsafeMutablePointer(mutating: vectors.baseAddress)
            message.msg_iovlen = vectors.count
            return Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
        }
    }

    /// Closes `fd`. EINTR is not retried (Linux has released the descriptor already).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    // MARK: epoll and eventfd

    public static func epollCreate() throws(IOError) -> Int32 {
        try Syscall.blocking("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    public static func eventfd() throws(IOError) -> Int32 {
        try Syscall.blocking("eventfd") { CSystem.eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }

    /// `epoll_ctl(op, fd)` with `mask` and the fd as the event's data.
    public static func epollCtl(_ epollFD: Int32, _ operation: Int32, _ fd: Int32, mask: UInt32) throws(IOError) {
        var event = epoll_event()
        event.events = mask
        event.data.fd = fd
        let name: String
        switch operation {
        case EPOLL_CTL_ADD: name = "epoll_ctl(ADD)"
        case EPOLL_CTL_MOD: name = "epoll_ctl(MOD)"
        default: name = "epoll_ctl(DEL)"
        }
        try Syscall.blocking(name) { epoll_ctl(epollFD, operation, fd, &event) }
    }

    /// Waits for events: `epoll_pwait2` (nanosecond timeout) where the kernel has it, else
    /// `epoll_wait` with the timeout rounded up to milliseconds. nil timeout = forever.
    /// Returns 0 on EINTR.
    public static func epollWait(
        _ epollFD: Int32, _ events: UnsafeMutablePointer<epoll_event>, capacity: Int32, timeoutNanos: UInt64?
    ) -> Int32 {
        if hasPwait2 {
            var count: Int32
            if let nanos = timeoutNanos {
                var timeout = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
                count = epoll_pwait2(epollFD, events, capacity, &timeout, nil)
            } else {
                count = epoll_pwait2(epollFD, events, capacity, nil, nil)
            }
            if count >= 0 { return count }
            if errno != ENOSYS { return 0 }
            hasPwait2 = false
        }
        let milliseconds = timeoutNanos.map { Int32(min(($0 + 999_999) / 1_000_000, UInt64(Int32.max))) } ?? -1
        return max(epoll_wait(epollFD, events, capacity, milliseconds), 0)
    }

    nonisolated(unsafe) private static var hasPwait2 = true  // only ever flips to false, racing writers agree

    /// Adds 1 to an eventfd (wakes its loop); never blocks in practice.
    public static func eventfdSignal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = try? Syscall.call("write(eventfd)") { Glibc.write(fd, &one, 8) }
    }

    /// Resets an eventfd.
    public static func eventfdDrain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = try? Syscall.call("read(eventfd)") { Glibc.read(fd, &value, 8) }
    }

    // MARK: Scheduling

    /// The calling thread's kernel id.
    public static func currentThreadID() -> Int32 {
        csystem_gettid()
    }

    /// Sets the nice value of one thread (Linux: setpriority on a TID affects that thread
    /// only). Raising it needs no privilege; returns false when refused.
    @discardableResult
    public static func setThreadNice(_ nice: Int32, thread: Int32 = currentThreadID()) -> Bool {
        (try? Syscall.blocking("setpriority") { csystem_set_thread_nice(thread, nice) }) != nil
    }

    public static func threadNice(_ thread: Int32 = currentThreadID()) -> Int32 {
        errno = 0
        return csystem_thread_nice(thread)
    }
}
