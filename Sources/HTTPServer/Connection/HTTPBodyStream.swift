import Foundation

/// The body of a request to a streaming route (`Router.add(..., streaming: true)`), handed to
/// its handler as `HTTPRequest.bodyStream` while the body is still arriving. The connection
/// pushes one chunk at a time and reads no further from the socket until the consumer has
/// taken it (backpressure), so an upload holds at most one chunk here plus the connection's
/// read buffer, whatever its length. Consumed from one thread (typically a worker: `next()`
/// blocks); the connection side calls `push`, `finish` and `abort` from its loop.
public final class HTTPBodyStream: @unchecked Sendable {  // every field is guarded by `condition`
    public enum Piece: Equatable, Sendable {
        case bytes([UInt8])
        /// The whole body was received.
        case end
        /// The connection closed (client gone, timeout, server shutdown) before the body ended.
        case aborted
    }

    private let condition = NSCondition()
    private var chunk: [UInt8]?
    private var ended = false
    private var aborted = false
    /// Called (on the consumer's thread) each time a chunk is taken: the connection may read on.
    private let taken: @Sendable () -> Void

    init(taken: @escaping @Sendable () -> Void) {
        self.taken = taken
    }

    /// A stream already holding `body` and its end (tests, in-process calls).
    public convenience init(complete body: [UInt8]) {
        self.init(taken: {})
        if !body.isEmpty { chunk = body }
        ended = true
    }

    /// The next piece, waiting for it. After `.end` or `.aborted` every call returns the same.
    public func next() -> Piece {
        condition.lock()
        while chunk == nil && !ended && !aborted { condition.wait() }
        if aborted {
            condition.unlock()
            return .aborted
        }
        guard let bytes = chunk else {
            condition.unlock()
            return .end
        }
        chunk = nil
        condition.unlock()
        taken()
        return .bytes(bytes)
    }

    func push(_ bytes: [UInt8]) {
        condition.lock()
        precondition(chunk == nil, "HTTPBodyStream: a chunk pushed before the previous one was taken")
        chunk = bytes
        condition.signal()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        ended = true
        condition.signal()
        condition.unlock()
    }

    /// Drops any chunk held and wakes the consumer with `.aborted`.
    func abort() {
        condition.lock()
        if !ended {
            aborted = true
            chunk = nil
        }
        condition.signal()
        condition.unlock()
    }
}
