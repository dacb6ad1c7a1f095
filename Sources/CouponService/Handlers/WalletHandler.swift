import CouponCore
import HTTPServer
import Issuance
import RedisClient
import Redemption
import Store

/// `GET /v1/users/{user_id}/coupons` (role `checkout`): the user's coupons from PostgreSQL,
/// plus grants still on their way there (read from the user's grant index in Redis, `GrantHints`).
///
/// Without order parameters: every coupon, grouped by its state now (a lapsed lock shows as
/// `issued`, a coupon past its window as `expired`), with counts per state. With
/// `order_amount` (and optionally `shipping_fee`, `business_line`, `store_id`): the usable
/// coupons with discount and final price, best first, then the unusable ones with a reason.
/// Read-only: the expiry sweep and the checkout routes write what time changed.
struct WalletHandler {
    let api: API

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let userId = parameters["user_id"], Identifier.isValid(userId) else {
            return responder.respond(APIError.invalid("user_id \(Identifier.rule)"))
        }
        let order: Order?
        do throws(HTTPResponseError) {
            order = try CheckoutRequest.walletOrder(request.query)
        } catch {
            return responder.respond(error.response)
        }
        api.blocking(responder) { context in
            let pending = try context.redisRead { try UnflushedGrants.of(userId, redis: $0) }
            let postgres = try context.postgres()
            let coupons = try Wallet.load(userId: userId, pending: pending, on: postgres)
            let nowMs = try CheckoutStore.nowMs(on: postgres)
            if let order {
                return .json(body: Self.pricedBody(userId: userId, order: order, wallet: Wallet.price(coupons, order: order, nowMs: nowMs), nowMs: nowMs))
            }
            return .json(body: Self.listBody(userId: userId, coupons: coupons, nowMs: nowMs))
        }
    }

    static func listBody(userId: String, coupons: [WalletCoupon], nowMs: Int64) -> [UInt8] {
        let states = CouponState.allCases
        let grouped = Dictionary(grouping: coupons) { $0.effectiveState(nowMs: nowMs) }
        return JSONWriter.object { object in
            object.field("user_id", userId)
            object.arrayField("coupons") { array in
                for state in states {
                    for coupon in grouped[state] ?? [] {
                        array.objectElement { Self.fields(coupon, state: state, into: &$0) }
                    }
                }
            }
            object.objectField("counts") { counts in
                for state in states { counts.field(state.rawValue, grouped[state]?.count ?? 0) }
            }
        }
    }

    static func pricedBody(userId: String, order: Order, wallet: PricedWallet, nowMs: Int64) -> [UInt8] {
        JSONWriter.object { object in
            object.field("user_id", userId)
            object.objectField("order") { fields in
                fields.field("order_amount", order.amount)
                fields.field("shipping_fee", order.shippingFee)
                if let line = order.businessLine { fields.field("business_line", line) }
                if let store = order.storeId { fields.field("store_id", store) }
            }
            object.arrayField("usable") { array in
                for (coupon, quote) in wallet.usable {
                    array.objectElement { item in
                        Self.fields(coupon, state: coupon.effectiveState(nowMs: nowMs), into: &item)
                        item.field("discount", quote.discount)
                        item.field("final_price", quote.finalPrice)
                        if let sku = quote.giftSku { item.field("gift_sku", sku) }
                    }
                }
            }
            object.arrayField("unusable") { array in
                for (coupon, reason) in wallet.unusable {
                    array.objectElement { item in
                        Self.fields(coupon, state: coupon.effectiveState(nowMs: nowMs), into: &item)
                        item.field("reason", reason)
                    }
                }
            }
        }
    }

    static func fields(_ coupon: WalletCoupon, state: CouponState, into object: inout JSONObjectWriter) {
        object.field("code", coupon.code)
        object.field("campaign_id", coupon.campaignId)
        object.field("template_id", coupon.templateId)
        object.field("user_id", coupon.userId)
        object.field("request_id", coupon.requestId)
        object.field("state", state.rawValue)
        object.field("kind", coupon.template.kind.wireName)
        object.field("name", coupon.template.name)
        object.field("issued_at", RFC3339.format(epochMs: coupon.issuedAtMs))
        object.field("valid_from", RFC3339.format(epochMs: coupon.validFromMs))
        object.field("valid_until", RFC3339.format(epochMs: coupon.validUntilMs))
        object.field("flushed", coupon.flushed)
    }
}
