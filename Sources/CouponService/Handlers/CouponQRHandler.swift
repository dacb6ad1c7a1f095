import CouponCore
import HTTPServer
import Issuance
import QRCode
import Redemption

/// `GET /v1/coupons/{code}/qr.svg?user_id=U` (role `checkout`): the coupon's code as a QR
/// symbol (byte mode, level M, the smallest version that fits, 4-module quiet zone) for a
/// member to show at a store counter. Only the owner's user id gets it: an unknown, malformed
/// or someone else's code answers the same 404, after the same lookups.
struct CouponQRHandler {
    let api: API

    func handle(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let userId = request.query["user_id"], Identifier.isValid(userId) else {
            return responder.respond(APIError.invalid("query parameter user_id \(Identifier.rule)"))
        }
        // Code guessing: the same code-miss budget as the checkout commands; only 404s spend it.
        let key = APIKey.bearer(request) ?? ""
        let address = api.limits.clientAddress(request)
        let attempt = api.limits.codeAttempt(key: key, address: address)
        guard attempt == .allowed else { return responder.respond(APIError.rateLimited(attempt)) }
        guard let code = parameters["code"], Identifier.isValid(code) else {
            return responder.respond(CheckoutHandlers.refusal(.notFound))
        }
        let limits = api.limits
        api.blocking(responder) { context in
            // Both lookups always run, so an owned, a foreign and an unknown code cost the same.
            var owner: String?, unflushed: Grant?
            do {
                owner = try CheckoutStore.owner(code: code, on: context.postgres())
                unflushed = try UnflushedGrants.find(code: code, of: userId, redis: context.redis())
                // The flusher removes the index entry right after committing the row: a second look
                // at PostgreSQL finds a grant flushed between the two reads.
                if owner == nil && unflushed == nil { owner = try CheckoutStore.owner(code: code, on: context.postgres()) }
            } catch {
                limits.codeFound(key: key, address: address)  // an outage is not a guess
                throw error
            }
            guard owner == userId || (owner == nil && unflushed != nil) else { return CheckoutHandlers.refusal(.notFound) }
            limits.codeFound(key: key, address: address)
            let svg = try QRCode.encode(code).svg()
            return HTTPResponse(
                status: 200,
                headers: [
                    "Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=3600",
                    "X-Content-Type-Options": "nosniff",
                ],
                body: Array(svg.utf8))
        }
    }
}
