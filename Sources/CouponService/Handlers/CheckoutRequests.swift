import CouponCore
import HTTPServer
import Redemption

/// Decoding of checkout request bodies and wallet query parameters. Unknown fields are
/// rejected: a misspelt `shipping_fee` must not silently price an order without it.
enum CheckoutRequest {
    static let identifierRule = Identifier.rule
    static let orderFields: Set<String> = ["user_id", "order_id", "order_amount", "shipping_fee", "business_line", "store_id", "currency"]
    static let maxReasonLength = 200

    /// The body object, its unknown fields refused.
    static func body(_ request: HTTPRequest, allowed: Set<String>) throws(HTTPResponseError) -> JSONValue {
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): throw failure
        }
        if let unknown = body.objectValue?.keys.first(where: { !allowed.contains($0) }) {
            throw HTTPResponseError(APIError.invalid("\(unknown): unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))"))
        }
        return body
    }

    static func identifier(_ body: JSONValue, _ field: String) throws(HTTPResponseError) -> String {
        switch RequestBody.identifier(body, field) {
        case .success(let value): return value
        case .failure(let failure): throw failure
        }
    }

    static func optionalIdentifier(_ body: JSONValue, _ field: String) throws(HTTPResponseError) -> String? {
        guard let value = body[field], !value.isNull else { return nil }
        guard let text = value.stringValue, Identifier.isValid(text) else {
            throw HTTPResponseError(APIError.invalid("\(field) \(identifierRule)"))
        }
        return text
    }

    /// A money amount in minor units: an integer from 0 to `CouponCore.maxOrderAmount`.
    static func amount(_ value: JSONValue?, _ field: String, default fallback: Int64? = nil) throws(HTTPResponseError) -> Int64 {
        guard let value, !value.isNull else {
            if let fallback { return fallback }
            throw HTTPResponseError(APIError.invalid("\(field) is required"))
        }
        guard let amount = value.int64Value, (0...CouponCore.maxOrderAmount).contains(amount) else {
            throw HTTPResponseError(APIError.invalid("\(field) must be an integer from 0 to \(CouponCore.maxOrderAmount) (minor units)"))
        }
        return amount
    }

    /// An optional ISO 4217 code; when given, a coupon in another currency is `currency_mismatch`.
    static func currency(_ value: JSONValue?) throws(HTTPResponseError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue, CouponTemplate.isCurrencyCode(text) else {
            throw HTTPResponseError(APIError.invalid("currency must be an ISO 4217 code of 3 upper-case letters"))
        }
        return text
    }

    /// `order_id`, `order_amount`, `shipping_fee` (default 0), `business_line`, `store_id`, `currency`.
    static func order(_ body: JSONValue) throws(HTTPResponseError) -> CheckoutOrder {
        let orderId = try identifier(body, "order_id")
        let orderAmount = try amount(body["order_amount"], "order_amount")
        let shipping = try amount(body["shipping_fee"], "shipping_fee", default: 0)
        let order = Order(
            amount: orderAmount, shippingFee: shipping, businessLine: try optionalIdentifier(body, "business_line"),
            storeId: try optionalIdentifier(body, "store_id"), currency: try currency(body["currency"]))
        return CheckoutOrder(orderId: orderId, order: order)
    }

    static func ttlSeconds(_ body: JSONValue) throws(HTTPResponseError) -> Int64 {
        guard let value = body["ttl_seconds"] else { throw HTTPResponseError(APIError.invalid("ttl_seconds is required")) }
        guard let seconds = value.int64Value, (1...Redemption.maxLockSeconds).contains(seconds) else {
            throw HTTPResponseError(APIError.invalid("ttl_seconds must be an integer from 1 to \(Redemption.maxLockSeconds)"))
        }
        return seconds
    }

    /// Free text for finance (`refund`, `order cancelled by customer`): 1 to 200 characters, no control characters.
    static func reason(_ body: JSONValue) throws(HTTPResponseError) -> String {
        guard let value = body["reason"] else { throw HTTPResponseError(APIError.invalid("reason is required")) }
        guard let text = value.stringValue, !text.isEmpty, text.count <= maxReasonLength,
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            !text.allSatisfy(\.isWhitespace)
        else {
            throw HTTPResponseError(APIError.invalid("reason must be 1 to \(maxReasonLength) characters without control characters"))
        }
        return text
    }

    /// The wallet's order from query parameters; nil when none of them is present.
    static func walletOrder(_ query: [String: String]) throws(HTTPResponseError) -> Order? {
        let names = ["order_amount", "shipping_fee", "business_line", "store_id", "currency"]
        guard names.contains(where: { query[$0] != nil }) else { return nil }
        func amount(_ name: String) throws(HTTPResponseError) -> Int64? {
            guard let text = query[name] else { return nil }
            guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), !text.isEmpty, text.utf8.count <= 16,
                let value = Int64(text), value <= CouponCore.maxOrderAmount
            else {
                throw HTTPResponseError(APIError.invalid("\(name) must be an integer from 0 to \(CouponCore.maxOrderAmount) (minor units)"))
            }
            return value
        }
        func identifier(_ name: String) throws(HTTPResponseError) -> String? {
            guard let text = query[name] else { return nil }
            guard Identifier.isValid(text) else { throw HTTPResponseError(APIError.invalid("\(name) \(identifierRule)")) }
            return text
        }
        guard let orderAmount = try amount("order_amount") else {
            throw HTTPResponseError(APIError.invalid("order_amount is required to price the wallet for an order"))
        }
        return Order(
            amount: orderAmount, shippingFee: try amount("shipping_fee") ?? 0, businessLine: try identifier("business_line"),
            storeId: try identifier("store_id"), currency: try currency(query["currency"].map(JSONValue.string)))
    }
}
