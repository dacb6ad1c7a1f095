internal import CHiredis

extension RESPValue {
    /// Deep-copies a hiredis reply; call before hiredis frees it.
    init(copying reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(Self.copyBytes(r.str, r.len))
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
                    elements.append(RESPValue(copying: element))
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
