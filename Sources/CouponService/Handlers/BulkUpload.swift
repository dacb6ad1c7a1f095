import CouponCore
import HTTPServer
import Synchronization

/// The body of an upload (bulk grants, an uploaded segment) as its worker reads it: chunks as they arrive from the
/// connection (`HTTPBodyStream`), hashed on the way for `Idempotency-Key`, never held whole.
struct BulkUpload {
    /// The connection closed before the body ended: the job's transaction is rolled back.
    struct CutOff: Error {}

    private let stream: HTTPBodyStream
    private var hasher = SHA256.Hasher()
    /// Body bytes read so far.
    private(set) var byteCount = 0

    init(_ stream: HTTPBodyStream) {
        self.stream = stream
    }

    /// The next chunk, nil at the end of the body; waits for the client.
    mutating func next() throws(CutOff) -> [UInt8]? {
        switch stream.next() {
        case .bytes(let bytes):
            hasher.update(bytes)
            byteCount += bytes.count
            return bytes
        case .end:
            return nil
        case .aborted:
            throw CutOff()
        }
    }

    /// Hex SHA-256 of the body read (call at its end).
    mutating func bodySHA256() -> String { hasher.finalizeHex() }

    /// The whole body as one array — `firstChunks` (from `peekFirstByte`) and the rest — for a
    /// small JSON body; a 413 (`HTTPResponseError`) past `maxBytes`.
    mutating func collect(after firstChunks: [[UInt8]], maxBytes: Int) throws -> [UInt8] {
        var bytes = firstChunks.flatMap { $0 }
        while bytes.count <= maxBytes, let chunk = try next() { bytes += chunk }
        guard bytes.count <= maxBytes else {
            throw HTTPResponseError(.error(status: 413, code: "body_too_large", message: "a JSON body here holds at most \(maxBytes) bytes"))
        }
        return bytes
    }

    /// Reads until the first byte that is not blank; the chunks read, and that byte (nil: the
    /// body is blank to its end).
    mutating func peekFirstByte() throws(CutOff) -> (chunks: [[UInt8]], first: UInt8?) {
        var chunks: [[UInt8]] = []
        while let chunk = try next() {
            chunks.append(chunk)
            if let byte = chunk.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) { return (chunks, byte) }
        }
        return (chunks, nil)
    }
}

/// Bounds the uploads (bulk grants and segments together) a node streams at once
/// (`bulk-max-uploads`): each holds a worker thread for as long as its client takes to send the body.
final class UploadSlots: Sendable {
    /// The 503 for an upload when every slot is taken.
    var refusal: HTTPResponse {
        .error(
            status: 503, code: "too_many_uploads",
            message: "\(limit) uploads (bulk grants, segments) are already streaming to this node (bulk-max-uploads); retry later",
            retryAfterSeconds: 1)
    }

    private let inUse = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Takes a slot; false when all are taken.
    func acquire() -> Bool {
        var current = inUse.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = inUse.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { inUse.subtract(1, ordering: .acquiringAndReleasing) }
}
