import CouponCore
import Foundation
import HTTPServer
import PostgresClient
import ServiceTestSupport
import Testing

/// A parsed checkout answer.
struct Answer: CustomStringConvertible {
    let status: Int
    let json: JSONValue

    var errorCode: String? { json["error"]?["code"]?.stringValue }
    subscript(key: String) -> JSONValue? { json[key] }
    var description: String { "\(status) \(json)" }
}

extension TestNode {
    /// POST /v1/coupons/{code}/{action} as `checkout` with a JSON body.
    func checkout(_ code: String, _ action: String, _ body: String) throws -> Answer {
        let response = try request("POST", "/v1/coupons/\(code)/\(action)", as: .checkout, body: body)
        return Answer(status: response.status, json: (try? JSONParser.parse(response.body)) ?? .null)
    }

    func redeem(_ code: String, user: String = "alice", order: String, amount: Int64 = 25_000, shipping: Int64 = 800) throws -> Answer {
        try checkout(code, "redeem", #"{"user_id":"\#(user)","order_id":"\#(order)","order_amount":\#(amount),"shipping_fee":\#(shipping)}"#)
    }

    func lock(_ code: String, user: String = "alice", order: String, amount: Int64 = 25_000, ttl: Int = 60) throws -> Answer {
        try checkout(code, "lock", #"{"user_id":"\#(user)","order_id":"\#(order)","order_amount":\#(amount),"shipping_fee":800,"ttl_seconds":\#(ttl)}"#)
    }

    func orderAction(_ code: String, _ action: String, user: String = "alice", order: String) throws -> Answer {
        try checkout(code, action, #"{"user_id":"\#(user)","order_id":"\#(order)"}"#)
    }

    func restore(_ code: String, user: String = "alice", order: String, reason: String = "refund") throws -> Answer {
        try checkout(code, "restore", #"{"user_id":"\#(user)","order_id":"\#(order)","reason":"\#(reason)"}"#)
    }

    /// Claims one coupon for `user`; returns its code.
    func claimCode(campaign: Int64, user: String = "alice", request: String = UUID().uuidString) throws -> String {
        let response = try claim(campaignId: campaign, userId: user, requestId: request)
        guard response.status == 201, let code = try JSONParser.parse(response.body)["code"]?.stringValue else {
            throw CheckoutTestError("claim failed: \(response.status) \(response.bodyString)")
        }
        return code
    }

    /// The code's `coupon_events`, oldest first, as `event[:order_id][:order_amount/discount][:reason]`.
    func events(_ code: String) throws -> [String] {
        try postgres().execute(
            "SELECT event, order_id, order_amount, discount, reason FROM coupon_events WHERE code = $1 ORDER BY id", [code]
        ).map { row in
            var text = try row.string(0)
            if let order = try row.optionalString(1) { text += ":\(order)" }
            if let amount = try row.optionalInt64(2), let discount = try row.optionalInt64(3) { text += ":\(amount)/\(discount)" }
            if let reason = try row.optionalString(4) { text += ":\(reason)" }
            return text
        }
    }

    /// The coupon row's state, order id and discount.
    func couponRow(_ code: String) throws -> String {
        guard let row = try postgres().execute("SELECT state, order_id, discount FROM coupons WHERE code = $1", [code]).first else {
            return "missing"
        }
        return "\(try row.string(0)) \(try row.optionalString(1) ?? "-") \(try row.optionalInt64(2).map(String.init) ?? "-")"
    }
}

struct CheckoutTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
