import CouponCore
import HTTPServer
import PostgresClient
import Store

/// The `Idempotency-Key` header of a create route (`POST /v1/campaigns`, `POST /v1/templates`).
/// Same key and same body → the resource the first request created, never a second one; same
/// key with another body → 422 `idempotency_conflict`. Keys are kept in PostgreSQL
/// (`idempotency_keys`), so they work across nodes and restarts.
struct IdempotencyKey: Sendable, Equatable {
    static let header = "Idempotency-Key"
    static let maxLength = 255

    let route: String
    let key: String
    /// Hex SHA-256 of the raw request body.
    let bodySHA256: String

    /// The request's key, nil when it sent none; 400 when the header is repeated, empty,
    /// longer than 255 bytes or not printable ASCII.
    static func of(_ request: HTTPRequest, route: String) -> Result<IdempotencyKey?, HTTPResponseError> {
        header(request).map { key in key.map { IdempotencyKey(route: route, key: $0, bodySHA256: SHA256.hexDigest(bytes: request.body)) } }
    }

    /// The key alone (a streamed body is hashed while it is read), validated as for `of`.
    static func header(_ request: HTTPRequest) -> Result<String?, HTTPResponseError> {
        let values = request.headers.values(for: header)
        guard let value = values.first else { return .success(nil) }
        guard values.count == 1, !value.isEmpty, value.utf8.count <= maxLength,
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            return .failure(HTTPResponseError(APIError.invalid("\(header) must be one value of 1 to \(maxLength) printable ASCII characters")))
        }
        return .success(value)
    }

    /// Runs `create` (which returns the new resource and its id) unless this key is known.
    /// Without a key it simply creates.
    static func create<Value: Sendable>(
        _ key: IdempotencyKey?, on connection: PostgresConnection,
        _ create: (PostgresConnection) throws -> (value: Value, resourceId: Int64)
    ) throws -> IdempotentCreation<Value> {
        guard let key else { return .created(try create(connection).value) }
        return try IdempotencyStore.create(route: key.route, key: key.key, bodySHA256: key.bodySHA256, on: connection, create)
    }

    static let conflict = HTTPResponse.error(
        status: 422, code: "idempotency_conflict", message: "this Idempotency-Key was used before with another request body")
}
