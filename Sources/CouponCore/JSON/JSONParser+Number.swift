/// Number grammar (RFC 8259 §6) and exact integer conversion.
extension JSONReader {
    /// Parses `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. An integer literal
    /// that fits Int64 stays exact; anything else goes through the platform's correctly
    /// rounded string-to-double conversion.
    mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = position
        var negative = false
        if bytes[position] == ASCII.minus {
            negative = true
            position += 1
        }
        guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
        let first = bytes[position]
        if first == ASCII.zero {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) { throw JSONError(.leadingZero, at: position - 1) }
        } else if isDigit(first) {
            skipDigits()
        } else {
            throw JSONError(.invalidNumber, at: start)
        }
        let integerEnd = position
        var isInteger = true
        if position < bytes.count, bytes[position] == ASCII.dot {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw JSONError(.invalidNumber, at: position) }
            skipDigits()
        }
        if position < bytes.count, bytes[position] == ASCII.e || bytes[position] == ASCII.upperE {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == ASCII.plus || bytes[position] == ASCII.minus { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else { throw JSONError(.invalidNumber, at: position) }
            skipDigits()
        }
        if isInteger, let exact = exactInteger(from: negative ? start + 1 : start, to: integerEnd, negative: negative) {
            return .integer(exact)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else { throw JSONError(.invalidNumber, at: start) }
        return .double(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= ASCII.zero && byte <= ASCII.nine }

    private mutating func skipDigits() {
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }

    /// Accumulates negatively so Int64.min is reachable; nil on overflow.
    private func exactInteger(from start: Int, to end: Int, negative: Bool) -> Int64? {
        var value: Int64 = 0
        for index in start..<end {
            let digit = Int64(bytes[index] &- ASCII.zero)
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }
}
