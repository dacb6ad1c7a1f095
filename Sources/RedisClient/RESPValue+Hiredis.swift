internal import CHiredis
import Glibc

extension RESPValue {
    /// Deep-copies a hiredis reply; call before hiredis frees it. `shortStrings`: where short
    /// bulk strings that recur (a script's outcome word) are shared instead of copied again.
    init(copying reply: UnsafePointer<redisReply>, shortStrings: ShortBulkStrings? = nil) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            if let shortStrings, r.len <= ShortBulkStrings.maxLength, let text = r.str {
                self = .bulkString(shortStrings.bytes(UnsafeRawBufferPointer(start: text, count: r.len)))
            } else {
                self = .bulkString(Self.copyBytes(r.str, r.len))
            }
        case REDIS_REPLY_STATUS:
            self = .simpleString(String(decoding: Self.copyBytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ERROR:
            self = .error(RedisServerError(message: String(decoding: Self.copyBytes(r.str, r.len), as: UTF8.self)))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] {
                    elements.append(RESPValue(copying: element, shortStrings: shortStrings))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default:
            self = .error(RedisServerError(message: "ERR unknown hiredis reply type \(r.type)"))
        }
    }

    private static func copyBytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// A reply as a command result: error replies become `.failure(.server)`.
    var asResult: Result<RESPValue, RedisError> {
        if case .error(let error) = self { return .failure(.server(error)) }
        return .success(self)
    }
}

/// Short bulk strings a connection has copied recently, shared by later replies holding the
/// same bytes (`[UInt8]` is immutable once made, so sharing is safe): a claim reply's
/// `granted` costs no array. Direct-mapped by length and edge bytes; confined to the loop.
final class ShortBulkStrings {
    static let maxLength = 24
    private var slots = [[UInt8]?](repeating: nil, count: 32)

    func bytes(_ text: UnsafeRawBufferPointer) -> [UInt8] {
        guard let first = text.first, let last = text.last else { return [] }
        let slot = (text.count &* 7 &+ Int(first) &* 3 &+ Int(last)) & (slots.count - 1)
        if let known = slots[slot], known.count == text.count,
            known.withUnsafeBytes({ memcmp($0.baseAddress!, text.baseAddress!, text.count) == 0 })
        {
            return known
        }
        let copy = [UInt8](text)
        slots[slot] = copy
        return copy
    }
}
