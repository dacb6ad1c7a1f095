import CouponCore
import HTTPServer
import Points
import Redemption

/// `POST /v1/coupons/{code}/redeem|lock|confirm|release|restore` (roles `checkout`, `store`). The body
/// is decoded on the loop (400 before anything is read or written), then one PostgreSQL
/// transaction on a worker decides and records (see `Checkout.perform`).
struct CheckoutHandlers {
    let api: API

    func redeem(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: CheckoutRequest.orderFields) { body throws(HTTPResponseError) in
            .redeem(try CheckoutRequest.order(body))
        }
    }

    func lock(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: CheckoutRequest.orderFields.union(["ttl_seconds"])) { body throws(HTTPResponseError) in
            let order = try CheckoutRequest.order(body)
            return .lock(order, ttlMs: try CheckoutRequest.ttlSeconds(body) * 1000)
        }
    }

    func confirm(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: ["user_id", "order_id"]) { body throws(HTTPResponseError) in
            .confirm(orderId: try CheckoutRequest.identifier(body, "order_id"))
        }
    }

    func release(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: ["user_id", "order_id"]) { body throws(HTTPResponseError) in
            .release(orderId: try CheckoutRequest.identifier(body, "order_id"))
        }
    }

    func restore(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: ["user_id", "order_id", "reason"]) { body throws(HTTPResponseError) in
            let orderId = try CheckoutRequest.identifier(body, "order_id")
            return .restore(orderId: orderId, reason: try CheckoutRequest.reason(body))
        }
    }

    /// `POST /v1/coupons/{code}/revoke` (role `admin`): withdraws an unused coupon for good.
    /// With `refund_points: true`, an exchange coupon's points come back (issue 11, `PointsRefund`).
    func revoke(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        run(request, parameters, principal, responder, allowed: ["user_id", "reason", "refund_points"]) { body throws(HTTPResponseError) in
            if let value = body["refund_points"], value.boolValue == nil {
                throw HTTPResponseError(APIError.invalid("refund_points must be true or false"))
            }
            return .revoke(reason: try CheckoutRequest.reason(body))
        } after: { body, receipt, userId, context in
            guard body["refund_points"]?.boolValue == true else { return [] }
            switch try PointsRefund.revoked(code: receipt.code, userId: userId, postgres: context.postgres(), redis: context.redis()) {
            case .refunded(let points, _), .replayed(let points): return [("points_refunded", points)]
            case .notExchange: return [("points_refunded", 0)]
            }
        }
    }

    private func run(
        _ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder, allowed: Set<String>,
        _ decode: (JSONValue) throws(HTTPResponseError) -> CheckoutCommand,
        after: @escaping @Sendable (JSONValue, CheckoutReceipt, String, WorkerPool.Context) throws -> [(String, Int64)] = { _, _, _, _ in [] }
    ) {
        // Code guessing (OWASP OAT-002): every attempt takes a code-miss token from the key and
        // the client address; it is given back when the code exists for this user, so only
        // `not_found` answers count. Out of tokens: 429 before anything is read.
        let key = APIKey.bearer(request) ?? ""
        let address = api.limits.clientAddress(request)
        let attempt = api.limits.codeAttempt(key: key, address: address)
        guard attempt == .allowed else { return responder.respond(APIError.rateLimited(attempt)) }
        // A store's till acts in its store only: its orders are priced there and named in its own
        // namespace (`store:<id>:<order>`), so it can confirm, release or restore only its own.
        let place = principal.storeId.map { CheckoutPlace(storeId: $0, businessLine: principal.businessLine, actor: principal.label) }
        // A malformed code cannot exist: answer exactly as for an unknown one.
        guard let code = parameters["code"], Identifier.isValid(code) else { return responder.respond(Self.refusal(.notFound)) }
        let userId: String, command: CheckoutCommand, body: JSONValue
        do throws(HTTPResponseError) {
            body = try CheckoutRequest.body(request, allowed: allowed)
            if let place { try Self.requireInside(place, body) }
            userId = try CheckoutRequest.identifier(body, "user_id")
            command = try decode(body).at(place)
        } catch {
            api.limits.codeFound(key: key, address: address)  // a bad body (or a foreign store) is not a guess
            return responder.respond(error.response)
        }
        let limits = api.limits
        api.blocking(responder) { context in
            let result: Result<CheckoutReceipt, CheckoutRefusal>
            do {
                result = try Checkout.perform(command, code: code, userId: userId, place: place, on: context.postgres()) {
                    try UnflushedGrants.find(code: code, of: userId, redis: context.redis())
                }
            } catch {
                limits.codeFound(key: key, address: address)  // an outage is not a guess either
                throw error
            }
            if result != .failure(.notFound) { limits.codeFound(key: key, address: address) }
            switch result {
            case .success(let receipt):
                let extra = try after(body, receipt, userId, context)
                guard !extra.isEmpty else { return .json(body: Self.body(receipt)) }
                return .json(body: JSONWriter.object {
                    Self.write(receipt, into: &$0)
                    for (name, value) in extra { $0.field(name, value) }
                })
            case .failure(let refusal): return Self.refusal(refusal)
            }
        }
    }

    /// A store key naming another store or business line in the body: 403.
    static func requireInside(_ place: CheckoutPlace, _ body: JSONValue) throws(HTTPResponseError) {
        if let store = body["store_id"]?.stringValue, store != place.storeId {
            throw HTTPResponseError(.error(status: 403, code: "forbidden", message: "this key acts for store \(place.storeId) only"))
        }
        if let line = body["business_line"]?.stringValue, let bound = place.businessLine, line != bound {
            throw HTTPResponseError(.error(status: 403, code: "forbidden", message: "this key acts for business line \(bound) only"))
        }
    }

    static func refusal(_ refusal: CheckoutRefusal) -> HTTPResponse {
        .error(status: refusal == .notFound ? 404 : 409, code: refusal.rawValue, message: refusal.message)
    }

    /// The coupon after the command; the order's price when the coupon holds or used it
    /// (restore: the price given back).
    static func body(_ receipt: CheckoutReceipt) -> [UInt8] {
        JSONWriter.object { write(receipt, into: &$0) }
    }

    static func write(_ receipt: CheckoutReceipt, into object: inout JSONObjectWriter) {
        object.field("code", receipt.code)
        object.field("state", receipt.state.rawValue)
        if !receipt.orderId.isEmpty { object.field("order_id", receipt.orderId) }  // revoke concerns no order
        if let order = receipt.order {
            object.field("order_amount", order.amount)
            object.field("shipping_fee", order.shippingFee)
            object.field("discount", order.discount)
            object.field("final_price", order.finalPrice)
        }
        if let sku = receipt.giftSku { object.field("gift_sku", sku) }
        if let until = receipt.lockedUntilMs { object.field("locked_until", RFC3339.format(epochMs: until)) }
        if let at = receipt.redeemedAtMs { object.field("redeemed_at", RFC3339.format(epochMs: at)) }
    }
}
