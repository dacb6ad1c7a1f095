import Synchronization

/// Completes one request. Call `respond(_:)` once, from any thread; later calls are ignored.
/// Responses to pipelined requests are written in request order whatever order they complete in.
public struct Responder: Sendable {
    private enum Target: Sendable {
        case connection(HTTPConnection, UInt64)
        case callback(OnceBox)
    }

    private final class OnceBox: Sendable {
        let done = Atomic<Bool>(false)
        let body: @Sendable (HTTPResponse) -> Void
        init(_ body: @escaping @Sendable (HTTPResponse) -> Void) { self.body = body }
    }

    private let target: Target

    init(connection: HTTPConnection, sequence: UInt64) {
        target = .connection(connection, sequence)
    }

    /// A responder that hands the response to `body` (handler unit tests, in-process calls).
    public init(_ body: @escaping @Sendable (HTTPResponse) -> Void) {
        target = .callback(OnceBox(body))
    }

    /// The connection this responder answers on (nil for a callback responder); for tests.
    var connection: HTTPConnection? {
        if case .connection(let connection, _) = target { return connection }
        return nil
    }

    public func respond(_ response: HTTPResponse) {
        switch target {
        case .connection(let connection, let sequence):
            if connection.loop.inEventLoop {
                connection.complete(sequence, response)
            } else {
                connection.loop.execute { connection.complete(sequence, response) }
            }
        case .callback(let box):
            if !box.done.exchange(true, ordering: .acquiringAndReleasing) { box.body(response) }
        }
    }
}
