import CouponCore
import HTTPServer
import PostgresClient
import RedisClient
import RiskControl

/// The API's error answers, one place for each code and status (ARCHITECTURE §6).
enum APIError {
    static func invalid(_ message: String) -> HTTPResponse {
        .error(status: 400, code: "invalid_request", message: message)
    }

    static func invalid(_ errors: [ValidationError]) -> HTTPResponse {
        .error(status: 400, code: "invalid_request", message: errors.map(\.description).joined(separator: "; "))
    }

    /// 409 `sharded_campaign`: the feature does not work on a campaign with `shards > 1` yet.
    static func sharded(_ message: String) -> HTTPResponse {
        .error(status: 409, code: "sharded_campaign", message: message)
    }

    static func notFound(_ what: String) -> HTTPResponse {
        .error(status: 404, code: "not_found", message: "\(what) not found")
    }

    static let unauthorized = HTTPResponse.error(
        status: 401, code: "unauthorized", message: "send an API key as 'Authorization: Bearer <key>'")

    static func forbidden(_ roles: Set<Role>) -> HTTPResponse {
        .error(status: 403, code: "forbidden", message: "this route needs a key with role \(roles.map(\.rawValue).sorted().joined(separator: " or "))")
    }

    static func unavailable(_ backend: String) -> HTTPResponse {
        .error(status: 503, code: "unavailable", message: "\(backend) is unavailable, retry shortly", retryAfterSeconds: 1)
    }

    /// 503 `replication_unconfirmed`: the claim ran but too few replicas confirmed it in time
    /// (`--redis-wait-replicas`); a retry with the same `request_id` returns the grant if it exists.
    static func unconfirmed(_ shortfall: ReplicaShortfall) -> HTTPResponse {
        .error(
            status: 503, code: "replication_unconfirmed",
            message: "the grant was confirmed by \(shortfall.acknowledged) of \(shortfall.required) Redis replicas in time; retry with the same request_id",
            retryAfterSeconds: 1)
    }

    /// 429 `rate_limited` with `Retry-After` (risk control).
    static func rateLimited(_ decision: RateDecision) -> HTTPResponse {
        .error(
            status: 429, code: "rate_limited", message: "too many requests; retry after the Retry-After header",
            retryAfterSeconds: decision.retryAfterSeconds)
    }

    static let internalError = HTTPResponse.error(status: 500, code: "internal", message: "internal error")

    /// Maps a backend failure to 503 (unreachable) or 500 (a bug or a broken invariant).
    static func backend(_ error: Error) -> HTTPResponse {
        if let error = error as? RedisError, error.isUnavailable { return unavailable("Redis") }
        if let error = error as? PostgresError, error.isUnavailable { return unavailable("PostgreSQL") }
        if error is WorkerPoolOverloaded { return unavailable("PostgreSQL") }
        if error is RedisError { return unavailable("Redis") }
        return internalError
    }
}

/// Request-body decoding shared by handlers.
enum RequestBody {
    /// The body as a JSON object, or the 400 to answer.
    static func object(_ request: HTTPRequest) -> Result<JSONValue, HTTPResponseError> {
        guard !request.body.isEmpty else { return .failure(HTTPResponseError(APIError.invalid("a JSON object body is required"))) }
        do {
            let value = try JSONParser.parse(request.body)
            guard case .object = value else { return .failure(HTTPResponseError(APIError.invalid("the body must be a JSON object"))) }
            return .success(value)
        } catch {
            return .failure(HTTPResponseError(APIError.invalid(error.message)))
        }
    }

    static func identifier(_ body: JSONValue, _ field: String) -> Result<String, HTTPResponseError> {
        guard let value = body[field] else { return .failure(HTTPResponseError(APIError.invalid("\(field) is required"))) }
        guard let text = value.stringValue, Identifier.isValid(text) else {
            return .failure(HTTPResponseError(APIError.invalid("\(field) \(Identifier.rule)")))
        }
        return .success(text)
    }
}

/// A response carried as an error, so decoding steps can stop a handler early.
struct HTTPResponseError: Error {
    let response: HTTPResponse
    init(_ response: HTTPResponse) { self.response = response }
}
