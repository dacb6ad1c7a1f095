import CouponCore

/// Reads user ids from an uploaded list, one per line or CSV (the first column is the user
/// id; a first line whose first column is `user_id` is a header and skipped). Bytes are fed
/// in pieces of any size, so the list is never held whole as strings: each complete line is
/// handed out as soon as it is read. Blank lines are skipped; surrounding spaces, tabs, a
/// trailing `\r` and double quotes around the id are removed. Anything else that is not an
/// identifier (`Identifier.rule`) is an error naming the file's line number.
public struct BulkLineReader {
    public struct InvalidLine: Error, Equatable, CustomStringConvertible {
        /// 1-based line number in the upload.
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Longest line accepted (an id is at most 128 bytes; CSV may carry more columns).
    public static let maxLineBytes = 4096

    private var partial: [UInt8] = []
    private var fileLine = 0
    private var sawFirst = false

    public init() {}

    /// Feeds `bytes`; calls `emit` with each user id of the lines completed by them.
    public mutating func feed(_ bytes: some Collection<UInt8>, _ emit: (String) throws -> Void) throws {
        for byte in bytes {
            if byte == 0x0A {
                try finishLine(emit)
            } else {
                guard partial.count < Self.maxLineBytes else {
                    throw InvalidLine(line: fileLine + 1, reason: "longer than \(Self.maxLineBytes) bytes")
                }
                partial.append(byte)
            }
        }
    }

    /// Ends the input: a last line without a newline still counts.
    public mutating func finish(_ emit: (String) throws -> Void) throws {
        if !partial.isEmpty { try finishLine(emit) }
    }

    private mutating func finishLine(_ emit: (String) throws -> Void) throws {
        fileLine += 1
        defer { partial.removeAll(keepingCapacity: true) }
        var field = partial[...]
        if let comma = field.firstIndex(of: UInt8(ascii: ",")) { field = field[..<comma] }
        while let last = field.last, last == 0x20 || last == 0x09 || last == 0x0D { field = field.dropLast() }
        while let first = field.first, first == 0x20 || first == 0x09 { field = field.dropFirst() }
        if field.count >= 2, field.first == UInt8(ascii: "\""), field.last == UInt8(ascii: "\"") {
            field = field.dropFirst().dropLast()
        }
        let first = !sawFirst
        if field.isEmpty {
            if partial.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // blank line
            throw InvalidLine(line: fileLine, reason: "no user id in the first column")
        }
        sawFirst = true
        let id = String(decoding: field, as: UTF8.self)
        if first && id == "user_id" { return }
        guard Identifier.isValid(id) else {
            throw InvalidLine(line: fileLine, reason: "user id \(Identifier.rule)")
        }
        try emit(id)
    }
}
