import CSystem
import Glibc

/// Named wrappers for every system call the code base makes outside hiredis and libpq — the
/// event loop, the HTTP server and the blocking clients (swift-nio's `Posix` enum): each goes
/// through `Syscall`, so `EINTR` is retried, `EAGAIN` becomes `.wouldBlock` and anything else an
/// `IOError` naming the call.
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

    /// A listening IPv4 TCP socket on `host:port` (0: any free port), non-blocking, `SO_REUSEADDR`
    /// and, with `reusePort`, `SO_REUSEPORT` (one listener per loop on the same port).
    public static func listenTCP4(host: String, port: Int, backlog: Int, reusePort: Bool) throws(IOError) -> Int32 {
        try Syscall.blocking("listen(\(host):\(port))") {
            csystem_listen_tcp4(host, Int32(port), Int32(backlog), reusePort ? 1 : 0)
        }
    }

    /// Accepts one pending connection (non-blocking, close-on-exec, `TCP_NODELAY`) with its peer's
    /// address as text (`""` when unknown); `.wouldBlock` when none is pending.
    public static func accept(_ listener: Int32) throws(IOError) -> IOResult<(fd: Int32, peer: String)> {
        var peer = [CChar](repeating: 0, count: 64)
        let result = try Syscall.call("accept4") { Int(csystem_accept_peer(listener, &peer, Int32(peer.count))) }
        guard case .processed(let client) = result else { return .wouldBlock }
        _ = csystem_setsockopt_int(Int32(client), Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return .processed((Int32(client), peer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }))
    }

    /// The local port a socket is bound to.
    public static func localPort(_ fd: Int32) -> Int {
        Int(csystem_local_port(fd))
    }

    /// Whether `fd` has something to read (data, EOF or an error) right now: one `poll` with a
    /// zero timeout. An idle client connection that is readable has been closed by its server.
    public static func isReadableNow(_ fd: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = try? Syscall.blocking("poll") { Glibc.poll(&descriptor, 1, 0) }
        return (ready ?? 0) > 0
    }

    // MARK: Blocking sockets (clients on their own threads)

    /// A blocking stream socket (close-on-exec) for `family`.
    public static func streamSocket(family: Int32) throws(IOError) -> Int32 {
        try Syscall.blocking("socket") { Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    /// A blocking client socket's options: every `recv`/`send` (and `connect`: Linux applies
    /// `SO_SNDTIMEO` to it) bounded by `seconds` — one that runs out reports `EAGAIN`
    /// (`.wouldBlock`) — and `TCP_NODELAY`.
    public static func configureClientSocket(_ fd: Int32, timeoutSeconds seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = try? Syscall.blocking("setsockopt(SO_RCVTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size) }
        _ = try? Syscall.blocking("setsockopt(SO_SNDTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size) }
        _ = try? Syscall.blocking("setsockopt(TCP_NODELAY)") { csystem_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1) }
    }

    /// Connects a blocking socket. Not retried on `EINTR`: the connect goes on in the background
    /// and a second call would fail with `EALREADY`.
    public static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) throws(IOError) {
        guard Glibc.connect(fd, address, length) != 0 else { return }
        throw IOError(errnoCode: errno, function: "connect")
    }

    /// `recv` on a blocking socket; with a receive timeout, `.wouldBlock` means it ran out.
    @inline(__always)
    public static func recv(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.call("recv") { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// `send` without SIGPIPE; with a send timeout, `.wouldBlock` means it ran out.
    @inline(__always)
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.call("send") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
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
