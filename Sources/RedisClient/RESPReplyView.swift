internal import CHiredis

/// A reply read where it lies: hiredis' reply object in the connection's `ReplyArena` while a
/// decoder runs (`AsyncRedis.evalScript(…decoding:…)`), or a `RESPValue` where a reply was
/// already copied (a cluster router's fallback). Lets the claim path map a batch reply without
/// copying it into `RESPValue`s first. Valid only inside the decoder it is lent to.
public struct RESPReplyView {
    private enum Storage {
        case hiredis(UnsafeRawPointer)
        case value(RESPValue)
    }

    private let storage: Storage

    init(_ reply: UnsafePointer<redisReply>) { storage = .hiredis(UnsafeRawPointer(reply)) }

    public init(_ value: RESPValue) { storage = .value(value) }

    private static func object(_ pointer: UnsafeRawPointer) -> redisReply {
        pointer.assumingMemoryBound(to: redisReply.self).pointee
    }

    /// The number of elements of an array reply; nil otherwise (a nil array is not an array).
    public var count: Int? {
        switch storage {
        case .hiredis(let pointer):
            let reply = Self.object(pointer)
            return reply.type == REDIS_REPLY_ARRAY ? reply.elements : nil
        case .value(let value):
            return value.array?.count
        }
    }

    /// Element `index` of an array reply (`index < count`).
    public subscript(index: Int) -> RESPReplyView {
        switch storage {
        case .hiredis(let pointer):
            let reply = Self.object(pointer)
            precondition(reply.type == REDIS_REPLY_ARRAY && index >= 0 && index < reply.elements, "RESPReplyView: no element \(index)")
            guard let element = reply.element[index] else { return RESPReplyView(.null) }
            return RESPReplyView(UnsafePointer(element))
        case .value(let value):
            return RESPReplyView(value.array![index])
        }
    }

    /// Lends `body` the bytes of a simple or bulk string reply; nil for any other reply (as
    /// `RESPValue.string` is nil).
    public func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        switch storage {
        case .hiredis(let pointer):
            let reply = Self.object(pointer)
            guard reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS else { return body(nil) }
            guard let text = reply.str, reply.len > 0 else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
            return text.withMemoryRebound(to: UInt8.self, capacity: reply.len) { body(UnsafeBufferPointer(start: $0, count: reply.len)) }
        case .value(.simpleString(var text)):
            return text.withUTF8 { body($0) }
        case .value(.bulkString(let bytes)):
            return bytes.withUnsafeBufferPointer { body($0) }
        case .value:
            return body(nil)
        }
    }

    /// The text of a simple or bulk string reply (as `RESPValue.string`).
    public var string: String? { withStringBytes { $0.map { String(decoding: $0, as: UTF8.self) } } }

    /// A copy, for messages and errors.
    public var value: RESPValue {
        switch storage {
        case .hiredis(let pointer): RESPValue(copying: pointer.assumingMemoryBound(to: redisReply.self))
        case .value(let value): value
        }
    }
}
