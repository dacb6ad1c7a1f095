import Glibc

/// Bytes a connection has yet to write, as a FIFO of chunks so queueing a response never
/// copies what is already queued. Small writes (response heads, small bodies) are packed into
/// an owned tail chunk of up to `packLimit` bytes, so pipelined small responses still leave in
/// few syscalls; a body of `packLimit` bytes or more becomes its own chunk without a copy.
/// Pure (no socket): `gather` hands out iovecs, `consume` advances past written bytes.
struct OutputQueue {
    static let packLimit = 16 * 1024

    private var chunks: [[UInt8]] = []
    /// Index of the first chunk with unwritten bytes.
    private var head = 0
    /// Bytes of `chunks[head]` already written.
    private var offset = 0
    /// The last chunk was created here (it may grow); false when it is a caller's array.
    private var tailIsPacked = false

    /// Bytes queued and not yet written.
    private(set) var byteCount = 0
    /// Bytes written since the connection opened (progress, for the send-stall timeout).
    private(set) var bytesWritten: UInt64 = 0

    var isEmpty: Bool { byteCount == 0 }
    /// Chunks holding unwritten bytes.
    var chunkCount: Int { chunks.count - head }

    /// Writes into the packed tail chunk (a new one when the tail is full or not packed).
    mutating func withPackedTail(_ body: (inout [UInt8]) -> Void) {
        if !tailIsPacked || chunks[chunks.count - 1].count >= Self.packLimit {
            chunks.append(SpareChunks.current.take())  // reserved once per chunk, not per response
            tailIsPacked = true
        }
        let last = chunks.count - 1
        let before = chunks[last].count
        body(&chunks[last])
        byteCount += chunks[last].count - before
    }

    mutating func append(_ bytes: [UInt8]) {
        if bytes.isEmpty { return }
        if bytes.count >= Self.packLimit {
            chunks.append(bytes)
            tailIsPacked = false
            byteCount += bytes.count
        } else {
            withPackedTail { $0.append(contentsOf: bytes) }
        }
    }

    /// Marks `count` bytes from the front as written.
    mutating func consume(_ count: Int) {
        precondition(count <= byteCount, "OutputQueue: consumed more than queued")
        byteCount -= count
        bytesWritten &+= UInt64(count)
        var remaining = count
        while remaining > 0 {
            let available = chunks[head].count - offset
            if remaining < available {
                offset += remaining
                return
            }
            remaining -= available
            var written: [UInt8] = []
            swap(&written, &chunks[head])  // out of the queue now
            if written.capacity >= Self.packLimit && written.capacity < 2 * Self.packLimit {
                written.removeAll(keepingCapacity: true)  // in place: the queue held the only reference
                SpareChunks.current.give(written)
            }
            head += 1
            offset = 0
        }
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: chunks.capacity <= 64)
            head = 0
            tailIsPacked = false
        } else if head >= 32 && head * 2 >= chunks.count {
            chunks.removeFirst(head)  // amortized: at least as many chunks were consumed as are moved
            head = 0
        }
    }

    /// Calls `body` with iovecs over the first unwritten bytes (at most `maxChunks` chunks);
    /// the pointers are valid only inside `body`.
    func gather<R>(maxChunks: Int, _ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
        let count = min(maxChunks, chunks.count - head)
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { buffer in
            collect(index: 0, into: buffer) { body(UnsafeBufferPointer(buffer)) }
        }
    }

    /// Pins chunk `head + index` and recurses, so every chunk stays pinned while `body` runs.
    private func collect<R>(index: Int, into vectors: UnsafeMutableBufferPointer<iovec>, _ body: () -> R) -> R {
        guard index < vectors.count else { return body() }
        return chunks[head + index].withUnsafeBytes { bytes in
            let skip = index == 0 ? offset : 0
            vectors[index] = iovec(
                iov_base: bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + skip) }, iov_len: bytes.count - skip)
            return collect(index: index + 1, into: vectors, body)
        }
    }
}

/// Written packed chunks kept for the next ones, per thread (a loop's connections take turns
/// with them): a connection answering one small response at a time then allocates no chunk
/// per response, and an idle connection holds none. At most `maxSpares` per thread.
final class SpareChunks {
    static let maxSpares = 4
    private var spares: [[UInt8]] = []

    /// An empty chunk with room for `OutputQueue.packLimit` bytes.
    func take() -> [UInt8] {
        if let spare = spares.popLast() { return spare }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(OutputQueue.packLimit)
        return chunk
    }

    /// Keeps an emptied chunk (one still holding bytes, or too small, is not kept).
    func give(_ chunk: [UInt8]) {
        guard spares.count < Self.maxSpares, chunk.isEmpty, chunk.capacity >= OutputQueue.packLimit else { return }
        spares.append(chunk)
    }

    /// Spares held by this thread (tests).
    var count: Int { spares.count }

    /// This thread's spares.
    static var current: SpareChunks {
        if let pointer = pthread_getspecific(threadKey) { return Unmanaged<SpareChunks>.fromOpaque(pointer).takeUnretainedValue() }
        let made = SpareChunks()
        pthread_setspecific(threadKey, Unmanaged.passRetained(made).toOpaque())
        return made
    }

    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<SpareChunks>.fromOpaque(pointer).release() }
        }
        return key
    }()
}
