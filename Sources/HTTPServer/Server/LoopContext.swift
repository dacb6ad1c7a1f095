import EventLoop

/// What one event loop shares among its connections: configuration, router, one read
/// buffer (reads copy straight into each connection's parser, so one buffer per loop is
/// enough), and the set of open connections so `stop()` can close them.
final class LoopContext {
    let loop: EventLoop
    let configuration: HTTPServerConfiguration
    let router: Router
    let readBuffer: UnsafeMutableRawBufferPointer
    let connectionConfiguration: HTTPConnectionMachine.Configuration
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]

    init(loop: EventLoop, configuration: HTTPServerConfiguration, router: Router) {
        self.loop = loop
        self.configuration = configuration
        self.router = router
        connectionConfiguration = configuration.connectionConfiguration
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    var connectionCount: Int { connections.count }

    func add(_ connection: HTTPConnection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    func remove(_ connection: HTTPConnection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
    }

    /// Requests read on this loop whose handlers have not answered yet.
    var unansweredCount: Int { connections.values.reduce(0) { $0 + $1.unansweredCount } }

    func drainAll() {
        for connection in Array(connections.values) { connection.drain() }
    }

    func closeAll() {
        for connection in Array(connections.values) { connection.close() }
    }
}
