import CouponCore
import HTTPServer
import Redemption

/// `POST /v1/stores/{store_id}/write-offs` (role `store`): scan-to-redeem at a store counter.
/// The key must be bound to that store; the domain decision is `StoreWriteOff`. Refusals are
/// the codes a clerk can act on: `not_usable_here`, `expired`, `already_redeemed` (with when
/// and where), `not_yet_valid`, `below_threshold`, `no_benefit`, `locked`, `revoked`, `not_found`.
struct StoreHandlers {
    let api: API
    static let writeOffFields: Set<String> = ["code", "order_id", "order_amount", "shipping_fee", "currency"]

    func writeOff(_ request: HTTPRequest, _ parameters: RouteParameters, _ principal: KeyPrincipal, _ responder: Responder) {
        guard let storeId = parameters["store_id"], Identifier.isValid(storeId), principal.storeId == storeId else {
            return responder.respond(
                .error(status: 403, code: "forbidden", message: "this key does not act for store \(parameters["store_id"]?.prefix(128) ?? "")"))
        }
        let body: JSONValue, orderId: String?, amount: Int64, shipping: Int64, currency: String?
        do throws(HTTPResponseError) {
            body = try CheckoutRequest.body(request, allowed: Self.writeOffFields)
            orderId = try CheckoutRequest.optionalIdentifier(body, "order_id")
            amount = try CheckoutRequest.amount(body["order_amount"], "order_amount", default: 0)
            shipping = try CheckoutRequest.amount(body["shipping_fee"], "shipping_fee", default: 0)
            currency = try CheckoutRequest.currency(body["currency"])
        } catch {
            return responder.respond(error.response)
        }
        guard let scanned = body["code"]?.stringValue else { return responder.respond(APIError.invalid("code is required")) }
        // Code guessing: the same code-miss budget as the checkout routes; only not_found spends it.
        let key = APIKey.bearer(request) ?? ""
        let address = api.limits.clientAddress(request)
        let attempt = api.limits.codeAttempt(key: key, address: address)
        guard attempt == .allowed else { return responder.respond(APIError.rateLimited(attempt)) }
        // A code read off a screen or typed: case, dashes and spaces do not matter (Crockford).
        guard let code = CouponCode(parsing: scanned) else { return responder.respond(CheckoutHandlers.refusal(.notFound)) }
        let place = CheckoutPlace(storeId: storeId, businessLine: principal.businessLine, actor: principal.label)
        let order = CheckoutOrder(orderId: place.orderId(orderId), order: place.order(amount: amount, shippingFee: shipping, currency: currency))
        let limits = api.limits
        api.blocking(responder) { context in
            let result: Result<CheckoutReceipt, WriteOffRefusal>
            do {
                result = try StoreWriteOff.perform(code: code.value, order: order, place: place, on: context.postgres())
            } catch {
                limits.codeFound(key: key, address: address)  // an outage is not a guess
                throw error
            }
            switch result {
            case .success(let receipt):
                limits.codeFound(key: key, address: address)
                return .json(body: Self.body(receipt, storeId: storeId))
            case .failure(let refusal):
                if refusal.refusal != .notFound { limits.codeFound(key: key, address: address) }
                return Self.response(refusal)
            }
        }
    }

    static func body(_ receipt: CheckoutReceipt, storeId: String) -> [UInt8] {
        JSONWriter.object { object in
            CheckoutHandlers.write(receipt, into: &object)
            object.field("store_id", storeId)
            if receipt.replayed { object.field("replayed", true) }
        }
    }

    static func response(_ refusal: WriteOffRefusal) -> HTTPResponse {
        guard refusal.refusal == .alreadyRedeemed else { return CheckoutHandlers.refusal(refusal.refusal) }
        var where_ = ""
        if let store = refusal.redeemedStoreId { where_ = " in store \(store)" } else { where_ = " online" }
        var when = ""
        if let at = refusal.redeemedAtMs { when = " at \(RFC3339.format(epochMs: at))" }
        let body = JSONWriter.object { object in
            object.objectField("error") { error in
                error.field("code", refusal.refusal.rawValue)
                error.field("message", "the coupon was already used\(when)\(where_)")
                if let at = refusal.redeemedAtMs { error.field("redeemed_at", RFC3339.format(epochMs: at)) }
                if let store = refusal.redeemedStoreId { error.field("store_id", store) }
            }
        }
        return .json(status: 409, body: body)
    }
}
