import Foundation

/// A result copied out of libpq: column names, text-format values and the affected-row count.
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// From `PQcmdTuples`: rows inserted/updated/deleted/copied/selected; 0 when the command reports none.
    public let rowsAffected: Int
    /// The command tag (`INSERT 0 1`, `SELECT 3`, ...).
    public let commandTag: String

    public init(columns: [String], rows: [PostgresRow], rowsAffected: Int, commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.rowsAffected = rowsAffected
        self.commandTag = commandTag
    }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }
    public var first: PostgresRow? { rows.first }
    public subscript(index: Int) -> PostgresRow { rows[index] }
    public func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }
}

/// One row of text-format values; typed accessors throw `decodingFailed` on NULL or a value that does not parse.
public struct PostgresRow: Sendable {
    public let columns: [String]
    public let values: [String?]

    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// The raw text of a column, nil for NULL.
    public func raw(_ column: Int) throws -> String? {
        guard column >= 0, column < values.count else {
            throw PostgresError(.decodingFailed, "column index \(column) out of range (\(values.count) columns)")
        }
        return values[column]
    }

    /// The index of a column by name (first match).
    public func index(of name: String) throws -> Int {
        guard let index = columns.firstIndex(of: name) else {
            throw PostgresError(.decodingFailed, "no column named \(name)")
        }
        return index
    }

    public func isNull(_ column: Int) throws -> Bool { try raw(column) == nil }

    // MARK: Optional accessors (NULL → nil)

    public func optionalString(_ column: Int) throws -> String? { try raw(column) }

    public func optionalInt64(_ column: Int) throws -> Int64? {
        try decode(column, "int8") { Int64($0) }
    }

    public func optionalInt(_ column: Int) throws -> Int? {
        try decode(column, "int") { Int($0) }
    }

    public func optionalInt32(_ column: Int) throws -> Int32? {
        try decode(column, "int4") { Int32($0) }
    }

    public func optionalBool(_ column: Int) throws -> Bool? {
        try decode(column, "bool") { text in
            switch text {
            case "t", "true": true
            case "f", "false": false
            default: nil
            }
        }
    }

    public func optionalDouble(_ column: Int) throws -> Double? {
        try decode(column, "float8") { text in
            switch text {
            case "NaN": .nan
            case "Infinity": .infinity
            case "-Infinity": -.infinity
            default: Double(text)
            }
        }
    }

    /// A timestamptz (or timestamp, read as UTC) in DateStyle ISO.
    public func optionalDate(_ column: Int) throws -> Date? {
        try decode(column, "timestamptz") { PostgresTimestamp.parse($0) }
    }

    /// A bytea in hex output format (`\x...`, the default since PostgreSQL 9.0).
    public func optionalBytes(_ column: Int) throws -> [UInt8]? {
        try decode(column, "bytea") { PostgresRow.decodeHexBytea($0) }
    }

    // MARK: Non-optional accessors (NULL → decodingFailed)

    public func string(_ column: Int) throws -> String { try required(column, optionalString(column)) }
    public func int64(_ column: Int) throws -> Int64 { try required(column, optionalInt64(column)) }
    public func int(_ column: Int) throws -> Int { try required(column, optionalInt(column)) }
    public func int32(_ column: Int) throws -> Int32 { try required(column, optionalInt32(column)) }
    public func bool(_ column: Int) throws -> Bool { try required(column, optionalBool(column)) }
    public func double(_ column: Int) throws -> Double { try required(column, optionalDouble(column)) }
    public func date(_ column: Int) throws -> Date { try required(column, optionalDate(column)) }
    public func bytes(_ column: Int) throws -> [UInt8] { try required(column, optionalBytes(column)) }

    // MARK: By column name

    public func string(_ name: String) throws -> String { try string(index(of: name)) }
    public func int64(_ name: String) throws -> Int64 { try int64(index(of: name)) }
    public func int(_ name: String) throws -> Int { try int(index(of: name)) }
    public func int32(_ name: String) throws -> Int32 { try int32(index(of: name)) }
    public func bool(_ name: String) throws -> Bool { try bool(index(of: name)) }
    public func double(_ name: String) throws -> Double { try double(index(of: name)) }
    public func date(_ name: String) throws -> Date { try date(index(of: name)) }
    public func bytes(_ name: String) throws -> [UInt8] { try bytes(index(of: name)) }
    public func optionalString(_ name: String) throws -> String? { try optionalString(index(of: name)) }
    public func optionalInt64(_ name: String) throws -> Int64? { try optionalInt64(index(of: name)) }
    public func optionalInt(_ name: String) throws -> Int? { try optionalInt(index(of: name)) }
    public func optionalBool(_ name: String) throws -> Bool? { try optionalBool(index(of: name)) }
    public func optionalDouble(_ name: String) throws -> Double? { try optionalDouble(index(of: name)) }
    public func optionalDate(_ name: String) throws -> Date? { try optionalDate(index(of: name)) }
    public func optionalBytes(_ name: String) throws -> [UInt8]? { try optionalBytes(index(of: name)) }

    // MARK: Helpers

    private func decode<T>(_ column: Int, _ typeName: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = try raw(column) else { return nil }
        guard let value = parse(text) else {
            throw PostgresError(.decodingFailed, "column \(name(column)): cannot read \(text.prefix(64).debugDescription) as \(typeName)")
        }
        return value
    }

    private func required<T>(_ column: Int, _ value: T?) throws -> T {
        guard let value else { throw PostgresError(.decodingFailed, "column \(name(column)) is NULL") }
        return value
    }

    private func name(_ column: Int) -> String {
        column < columns.count ? "\(column) (\(columns[column]))" : String(column)
    }

    static func decodeHexBytea(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity((utf8.count - 2) / 2)
        var i = 2
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}
