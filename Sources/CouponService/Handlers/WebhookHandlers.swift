import CouponCore
import HTTPServer
import Webhooks

/// Webhook subscriptions (role `admin`; issue 12): create (the secret is shown once), list with
/// outbox counts, delete; dead deliveries listed and re-queued. Delivery is `WebhookDeliverer`'s, on its own thread.
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

    /// Subscriptions with their outbox counts: `pending` (waiting or retrying), `dead`, `delivered` (kept for the retention).
    func list(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            let counts = try WebhookStore.counts(on: postgres)
            let items = try WebhookStore.list(on: postgres).map { subscription in
                guard case .object(var item) = subscription.json(withSecret: false) else { return JSONValue.null }
                let count = counts[subscription.id] ?? WebhookStore.Counts()
                item["deliveries"] = .object(["pending": .int(count.pending), "dead": .int(count.dead), "delivered": .int(count.delivered)])
                return .object(item)
            }
            return .json(body: JSONValue.object(["subscriptions": .array(items)]).serialized())
        }
    }

    /// `GET /v1/webhooks/{id}/dead?limit=&after_id=`: dead deliveries, oldest first.
    func dead(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("webhook")) }
        var limit = 100
        if let text = request.query["limit"] {
            guard let value = Int(text), (1...1_000).contains(value), String(value) == text else {
                return responder.respond(APIError.invalid("limit must be an integer from 1 to 1000"))
            }
            limit = value
        }
        var after: Int64 = 0
        if let text = request.query["after_id"] {
            guard let value = Int64(text), value >= 0, String(value) == text else {
                return responder.respond(APIError.invalid("after_id must be a non-negative integer"))
            }
            after = value
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard try WebhookStore.isActive(id: id, on: postgres) else { return APIError.notFound("webhook") }
            let rows = try WebhookStore.dead(subscription: id, after: after, limit: limit, on: postgres)
            let items: [JSONValue] = rows.map { row in
                .object([
                    "id": .int(row.id), "event": .string(row.event), "subject": .string(row.subject), "attempts": .int(Int64(row.attempts)),
                    "last_error": .string(row.lastError), "created_at": .string(row.createdAt), "dead_at": .string(row.deadAt),
                    "payload": (try? JSONParser.parse(Array(row.payload.utf8))) ?? .null,
                ])
            }
            let next: JSONValue = rows.count == limit ? .int(rows.last!.id) : .null
            return .json(body: JSONValue.object(["subscription_id": .int(id), "deliveries": .array(items), "next_after_id": next]).serialized())
        }
    }

    /// `POST /v1/webhooks/{id}/dead/retry`: re-queues every dead delivery, or those of `{"ids": [...]}`.
    func retryDead(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("webhook")) }
        var ids: [Int64]?
        if !request.body.isEmpty {
            let body: JSONValue
            switch RequestBody.object(request) {
            case .success(let value): body = value
            case .failure(let failure): return responder.respond(failure.response)
            }
            guard case .object(let object) = body, object.keys.allSatisfy({ $0 == "ids" }) else {
                return responder.respond(APIError.invalid("the body may only hold ids"))
            }
            if let value = body["ids"] {
                guard let list = value.arrayValue, (1...1_000).contains(list.count),
                    let numbers = Optional(list.compactMap(\.int64Value)), numbers.count == list.count, numbers.allSatisfy({ $0 > 0 })
                else { return responder.respond(APIError.invalid("ids must be a list of 1 to 1000 delivery ids")) }
                ids = numbers
            }
        }
        api.blocking(responder) { context in
            guard let count = try WebhookStore.retryDead(subscription: id, ids: ids, on: context.postgres()) else {
                return APIError.notFound("webhook")
            }
            return .json(body: JSONValue.object(["subscription_id": .int(id), "requeued": .int(Int64(count))]).serialized())
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
