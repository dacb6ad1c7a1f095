import PostgresClient

/// A template row: the template's wire JSON kept verbatim in `spec`, with the columns
/// finance and checkout filter on pulled out.
public struct TemplateRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var currency: String
    public var kind: String
    public var specJSON: String
    public var faceValue: Int64

    public init(id: Int64, name: String, currency: String, kind: String, specJSON: String, faceValue: Int64) {
        self.id = id
        self.name = name
        self.currency = currency
        self.kind = kind
        self.specJSON = specJSON
        self.faceValue = faceValue
    }
}

public enum TemplateStore {
    public static func insert(
        name: String, currency: String, kind: String, specJSON: String, faceValue: Int64, on connection: PostgresConnection
    ) throws -> TemplateRecord {
        let row = try connection.execute(
            """
            INSERT INTO templates (name, currency, kind, spec, face_value) VALUES ($1, $2, $3, $4::jsonb, $5)
            RETURNING id, name, currency, kind, spec::text, face_value
            """, [name, currency, kind, specJSON, faceValue]
        ).first!
        return try decode(row)
    }

    public static func find(id: Int64, on connection: PostgresConnection) throws -> TemplateRecord? {
        try connection.execute(
            "SELECT id, name, currency, kind, spec::text, face_value FROM templates WHERE id = $1", [id]
        ).first.map(decode)
    }

    public static func find(ids: [Int64], on connection: PostgresConnection) throws -> [Int64: TemplateRecord] {
        guard !ids.isEmpty else { return [:] }
        var result: [Int64: TemplateRecord] = [:]
        for row in try connection.execute(
            "SELECT id, name, currency, kind, spec::text, face_value FROM templates WHERE id = ANY($1::bigint[])",
            [PostgresArrayLiteral.integers(ids)])
        {
            let record = try decode(row)
            result[record.id] = record
        }
        return result
    }

    static func decode(_ row: PostgresRow) throws -> TemplateRecord {
        TemplateRecord(
            id: try row.int64(0), name: try row.string(1), currency: try row.string(2), kind: try row.string(3),
            specJSON: try row.string(4), faceValue: try row.int64(5))
    }
}
