import Dispatch
import EventLoop
import Glibc
import Synchronization
import Testing

@testable import HTTPServer

/// A server on a free loopback port with a 2-loop group, torn down by `withServer`.
func withServer(
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    routes: (Router, EventLoopGroup) -> Void,
    _ body: (HTTPServer) throws -> Void
) throws {
    let group = try EventLoopGroup(count: 2, namePrefix: "http-test")
    defer { group.shutdown() }
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let router = Router()
    routes(router, group)
    let server = HTTPServer(group: group, configuration: configuration, router: router)
    try server.start()
    defer { server.stop() }
    try body(server)
}

/// The loop the calling handler runs on.
func currentLoop(_ group: EventLoopGroup) -> EventLoop {
    group.loops.first { $0.inEventLoop }!
}

final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Thread-safe list of observed values.
final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

func milliseconds(since start: UInt64) -> Int { Int((MonotonicClock.now() - start) / 1_000_000) }

func sleepMilliseconds(_ ms: Int) { usleep(UInt32(ms * 1000)) }

/// A weak reference to a connection, to check it is released (`HTTPConnection` is confined to
/// its loop; only the reference is read elsewhere).
final class WeakConnection: @unchecked Sendable {
    weak var connection: HTTPConnection?
    init(_ connection: HTTPConnection?) { self.connection = connection }
}
