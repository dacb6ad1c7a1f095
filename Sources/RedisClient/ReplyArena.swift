internal import CHiredis

/// Where one connection's replies are built. hiredis' reader calls `ReplyArena.functions`
/// instead of its own object functions, which `malloc` every reply object, element vector and
/// string: here they are laid out in blocks that are kept and reused. Objects keep hiredis'
/// `redisReply` layout (strings NUL-terminated), so hiredis' own reads of a reply (a spontaneous
/// error reply) and `RESPValue(copying:)` work unchanged.
///
/// hiredis builds one reply at a time and frees it (`freeObject`) after its callback returned,
/// before it starts the next, so the arena is reset when the next reply's root is created; a
/// reply that arrives over several reads stays put meanwhile (blocks never move). Confined to
/// its connection's loop, like the hiredis context whose reader points at it.
final class ReplyArena {
    /// Bytes per block: a batch reply of 64 claims takes ≈ 20 KiB.
    static let blockSize = 64 * 1024
    /// Blocks kept across replies; more (a huge reply) are freed when the next reply starts.
    static let keptBlocks = 2

    private var blocks: [UnsafeMutableRawPointer]
    private var current = 0
    private var used = 0
    /// Allocations larger than a block, freed at the next reset.
    private var oversized: [UnsafeMutableRawPointer] = []

    init() {
        blocks = [UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 16)]
    }

    deinit {
        for block in blocks { block.deallocate() }
        for allocation in oversized { allocation.deallocate() }
    }

    /// Blocks held now (tests).
    var blockCount: Int { blocks.count }

    /// Forgets every object: the previous reply has been consumed.
    func reset() {
        current = 0
        used = 0
        while blocks.count > Self.keptBlocks { blocks.removeLast().deallocate() }
        if !oversized.isEmpty {
            for allocation in oversized { allocation.deallocate() }
            oversized.removeAll(keepingCapacity: true)
        }
    }

    /// `count` bytes, 16-byte aligned, valid until the next `reset`.
    func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        let size = (count + 15) & ~15
        if size > Self.blockSize {
            let allocation = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            oversized.append(allocation)
            return allocation
        }
        if used + size > Self.blockSize {
            current += 1
            if current == blocks.count { blocks.append(UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 16)) }
            used = 0
        }
        defer { used += size }
        return blocks[current] + used
    }

    /// A zeroed reply object of `type`, linked into its parent's element vector (as hiredis'
    /// own `createReplyObject` callers do); the root of a reply resets the arena first.
    fileprivate func object(_ task: UnsafePointer<redisReadTask>, type: Int32) -> UnsafeMutablePointer<redisReply> {
        if task.pointee.parent == nil { reset() }
        let object = allocate(MemoryLayout<redisReply>.stride).bindMemory(to: redisReply.self, capacity: 1)
        object.initialize(to: redisReply(type: type, integer: 0, len: 0, str: nil, elements: 0, element: nil))
        if let parent = task.pointee.parent, let array = parent.pointee.obj?.assumingMemoryBound(to: redisReply.self) {
            array.pointee.element[Int(task.pointee.idx)] = object
        }
        return object
    }

    /// The object functions hiredis' reader calls (`redisReader.fn`); `redisReader.privdata`
    /// (copied into every read task) is the arena, unretained.
    nonisolated(unsafe) static let functions: UnsafeMutablePointer<redisReplyObjectFunctions> = {
        let table = UnsafeMutablePointer<redisReplyObjectFunctions>.allocate(capacity: 1)
        table.initialize(
            to: redisReplyObjectFunctions(
                createString: { task, text, length in
                    arena(task!) { arena in
                        let object = arena.object(task!, type: task!.pointee.type)
                        let bytes = arena.allocate(length + 1).assumingMemoryBound(to: CChar.self)
                        if length > 0 { bytes.update(from: text!, count: length) }
                        bytes[length] = 0
                        object.pointee.str = bytes
                        object.pointee.len = length
                        return UnsafeMutableRawPointer(object)
                    }
                },
                createArray: { task, count in
                    arena(task!) { arena in
                        let object = arena.object(task!, type: REDIS_REPLY_ARRAY)
                        if count > 0 {
                            let elements = arena.allocate(Int(count) * MemoryLayout<UnsafeMutablePointer<redisReply>?>.stride)
                                .bindMemory(to: UnsafeMutablePointer<redisReply>?.self, capacity: Int(count))
                            elements.initialize(repeating: nil, count: Int(count))
                            object.pointee.element = elements
                        }
                        object.pointee.elements = Int(max(count, 0))
                        return UnsafeMutableRawPointer(object)
                    }
                },
                createInteger: { task, value in
                    arena(task!) { arena in
                        let object = arena.object(task!, type: REDIS_REPLY_INTEGER)
                        object.pointee.integer = value
                        return UnsafeMutableRawPointer(object)
                    }
                },
                createNil: { task in
                    arena(task!) { arena in UnsafeMutableRawPointer(arena.object(task!, type: REDIS_REPLY_NIL)) }
                },
                freeObject: { _ in }  // the next reply's root resets the arena
            ))
        return table
    }()

    private static func arena<R>(_ task: UnsafePointer<redisReadTask>, _ body: (ReplyArena) -> R) -> R {
        Unmanaged<ReplyArena>.fromOpaque(task.pointee.privdata!)._withUnsafeGuaranteedRef(body)
    }

    /// Makes `reader` build its replies here. The arena must outlive the reader.
    func attach(to reader: UnsafeMutablePointer<redisReader>) {
        reader.pointee.fn = Self.functions
        reader.pointee.privdata = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Parses `chunks` (fed one at a time) with a reader of this arena: every complete reply,
    /// copied, or nil after a protocol error. For tests of the reader without sockets.
    func parse(_ chunks: [[UInt8]]) -> [RESPValue]? {
        parse(chunks) { $0.value }
    }

    /// The same, each reply read in place by `read` before the next one is built.
    func parse<T>(_ chunks: [[UInt8]], _ read: (RESPReplyView) -> T) -> [T]? {
        guard let reader = redisReaderCreateWithFunctions(Self.functions) else { return nil }
        defer { redisReaderFree(reader) }
        attach(to: reader)
        var replies: [T] = []
        for chunk in chunks {
            let fed = chunk.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
            }
            guard fed == REDIS_OK else { return nil }
            while true {
                var reply: UnsafeMutableRawPointer?
                guard redisReaderGetReply(reader, &reply) == REDIS_OK else { return nil }
                guard let reply else { break }
                replies.append(read(RESPReplyView(reply.assumingMemoryBound(to: redisReply.self))))
                Self.functions.pointee.freeObject(reply)
            }
        }
        return replies
    }
}
