import CouponCore
import HTTPServer
import Webhooks

/// Webhook subscriptions (role `admin`; issue 12): create (the secret is shown once), list,
/// delete. Delivery is `WebhookDeliverer`'s, on its own thread.
struct WebhookHandlers {
    let api: API

    func create(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = "whsec_" + (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(16) }.joined()
        let subscription: WebhookSubscription
        do throws(ValidationError) {
            subscription = try WebhookSubscription(json: body, secret: secret)
        } catch {
            return responder.respond(APIError.invalid([error]))
        }
        api.blocking(responder) { context in
            let stored = try WebhookStore.insert(subscription, on: context.postgres())
            return .json(status: 201, body: stored.json(withSecret: true).serialized())
        }
    }

    func list(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        api.blocking(responder) { context in
            let items = try WebhookStore.list(on: context.postgres()).map { $0.json(withSecret: false) }
            return .json(body: JSONValue.object(["subscriptions": .array(items)]).serialized())
        }
    }

    func delete(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("webhook")) }
        api.blocking(responder) { context in
            guard try WebhookStore.deactivate(id: id, on: context.postgres()) else { return APIError.notFound("webhook") }
            return .json(body: JSONValue.object(["id": .int(id), "active": .bool(false)]).serialized())
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
