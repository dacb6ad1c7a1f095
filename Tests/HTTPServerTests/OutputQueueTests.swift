import Glibc
import Testing

@testable import HTTPServer

@Suite struct OutputQueueTests {
    /// The unwritten bytes as the iovecs describe them.
    func pending(_ queue: OutputQueue, maxChunks: Int = 64) -> [UInt8] {
        queue.gather(maxChunks: maxChunks) { vectors in
            vectors.flatMap { vector in
                Array(UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len))
            }
        }
    }

    @Test func smallWritesArePackedLargeBodiesKeptAsChunks() {
        var queue = OutputQueue()
        queue.withPackedTail { $0.append(contentsOf: bytes("HEAD1|")) }
        queue.append(bytes("body1|"))
        queue.withPackedTail { $0.append(contentsOf: bytes("HEAD2|")) }
        let large = [UInt8](repeating: 0x41, count: OutputQueue.packLimit)
        queue.append(large)
        queue.withPackedTail { $0.append(contentsOf: bytes("HEAD3")) }
        #expect(queue.chunkCount == 3)  // packed, large, packed
        #expect(queue.byteCount == 18 + large.count + 5)
        #expect(pending(queue) == bytes("HEAD1|body1|HEAD2|") + large + bytes("HEAD3"))
        #expect(pending(queue, maxChunks: 1) == bytes("HEAD1|body1|HEAD2|"))
    }

    /// A written packed chunk is kept (per thread) for the next response instead of freed, and
    /// comes back empty; at most `SpareChunks.maxSpares` are kept.
    @Test func writtenChunksAreReused() {
        var queue = OutputQueue()
        queue.withPackedTail { $0.append(contentsOf: bytes("first")) }
        let first = queue.gather(maxChunks: 1) { $0[0].iov_base }
        queue.consume(5)
        let spares = SpareChunks.current.count
        #expect(spares >= 1)
        queue.withPackedTail { $0.append(contentsOf: bytes("second")) }
        #expect(queue.gather(maxChunks: 1) { $0[0].iov_base } == first)
        #expect(pending(queue) == bytes("second"))
        #expect(SpareChunks.current.count == spares - 1)
        let taken = (0..<(SpareChunks.maxSpares + 2)).map { _ in SpareChunks.current.take() + [1] }
        #expect(SpareChunks.current.count == 0)
        SpareChunks.current.give(taken[0])  // holds a byte: not kept
        #expect(SpareChunks.current.count == 0)
        for var chunk in taken {
            chunk.removeAll()
            chunk.reserveCapacity(OutputQueue.packLimit)
            SpareChunks.current.give(chunk)
        }
        #expect(SpareChunks.current.count == SpareChunks.maxSpares)
        #expect(SpareChunks.current.take().isEmpty)
        SpareChunks.current.give([])  // too small to be a chunk: not kept
        #expect(SpareChunks.current.count == SpareChunks.maxSpares - 1)
    }

    @Test func consumeAcrossChunksKeepsTheRestInOrder() {
        var queue = OutputQueue()
        let large = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        queue.append(bytes("abc"))
        queue.append(large)
        queue.append(bytes("xyz"))
        queue.consume(2)
        #expect(pending(queue) == bytes("c") + large + bytes("xyz"))
        queue.consume(1 + 10_000)
        #expect(pending(queue) == Array(large[10_000...]) + bytes("xyz"))
        #expect(queue.byteCount == 10_003)
        #expect(queue.bytesWritten == 10_003)
        queue.consume(10_003)
        #expect(queue.isEmpty)
        #expect(queue.chunkCount == 0)
        #expect(queue.bytesWritten == 20_006)
        queue.append(bytes("again"))
        #expect(pending(queue) == bytes("again"))
    }

    @Test func manyResponsesNeverCopyWhatIsQueued() {
        // 10,000 pipelined responses: chunks grow with bytes / packLimit, not with responses.
        var queue = OutputQueue()
        for index in 0..<10_000 {
            queue.withPackedTail { $0.append(contentsOf: bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")) }
            let digits = String(index)
            queue.append(bytes(String(repeating: "0", count: 5 - digits.count) + digits))
        }
        #expect(queue.byteCount == 10_000 * 43)
        #expect(queue.chunkCount <= 10_000 * 43 / OutputQueue.packLimit + 1)
        var drained = 0
        while !queue.isEmpty {
            let step = min(queue.byteCount, 7_777)
            queue.consume(step)
            drained += step
        }
        #expect(drained == 430_000)
        #expect(queue.chunkCount == 0)
    }
}
