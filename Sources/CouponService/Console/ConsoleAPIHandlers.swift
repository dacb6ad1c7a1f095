import CouponCore
import EventLoop
import Foundation
import HTTPServer
import Issuance
import GrantFlusher
import RedisClient
import Store

/// `GET /v1/campaigns` (the console's list) and `GET /v1/campaigns/{id}/series` (its live
/// charts). Roles `admin` and `finance`; both read PostgreSQL and Redis on a worker thread.
struct ConsoleAPIHandlers {
    let api: API

    static let maxLimit = 200
    static let kinds: Set<String> = ["amount_off", "percent_off", "free_shipping", "gift", "cash"]

    /// Query parameters of the list route, validated; a bad one is a 400 naming it.
    static func listFilter(_ query: [String: String]) -> Result<CampaignStore.ListFilter, HTTPResponseError> {
        let known: Set<String> = ["limit", "cursor", "state", "kind", "q"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            return .failure(HTTPResponseError(APIError.invalid("unknown query parameter '\(unknown.prefix(64))'")))
        }
        var filter = CampaignStore.ListFilter()
        if let text = query["limit"] {
            guard let limit = ResourceID.parse(text), limit <= maxLimit else {
                return .failure(HTTPResponseError(APIError.invalid("limit must be a whole number from 1 to \(maxLimit)")))
            }
            filter.limit = Int(limit)
        }
        if let text = query["cursor"] {
            guard let cursor = ResourceID.parse(text) else {
                return .failure(HTTPResponseError(APIError.invalid("cursor must be the next_cursor of a previous page")))
            }
            filter.before = cursor
        }
        if let text = query["state"] {
            guard let state = Campaign.State(rawValue: text) else {
                return .failure(HTTPResponseError(APIError.invalid("state must be active, paused or ended")))
            }
            filter.state = state
        }
        if let text = query["kind"] {
            guard kinds.contains(text) else {
                return .failure(HTTPResponseError(APIError.invalid("kind must be one of " + kinds.sorted().joined(separator: ", "))))
            }
            filter.kind = text
        }
        if let text = query["q"], !text.isEmpty {
            guard text.count <= 100 else { return .failure(HTTPResponseError(APIError.invalid("q must be at most 100 characters"))) }
            filter.search = text
        }
        return .success(filter)
    }

    func list(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let filter: CampaignStore.ListFilter
        switch Self.listFilter(request.query) {
        case .success(let value): filter = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        api.blocking(responder) { context in
            let listed = try CampaignStore.list(filter, on: context.postgres())
            let redis = try context.redis()
            let second = Int64(Date().timeIntervalSince1970) - 1
            var commands: [[RedisArgument]] = []
            for item in listed {
                let keys = CampaignKeys(campaignId: item.campaign.id)
                commands.append(["GET", .string(keys.stock)])
                commands.append(["HGET", .string(keys.meta), .string(CampaignMeta.issued)])
                commands.append(["HGETALL", .string(ClaimSeries.key(campaignId: item.campaign.id, minute: second / 60))])
            }
            let replies = commands.isEmpty ? [] : try redis.pipeline(commands)
            var campaigns: [JSONValue] = []
            for (index, item) in listed.enumerated() {
                guard case .object(var object) = item.campaign.json else { continue }
                let remaining = try replies[3 * index].get().string.flatMap(Int64.init)
                let issued = try replies[3 * index + 1].get().string.flatMap(Int64.init)
                let series = try replies[3 * index + 2].get().array ?? []
                object["kind"] = .string(item.kind)
                object["currency"] = .string(item.currency)
                object["remaining"] = remaining.map(JSONValue.int) ?? .null
                object["issued"] = issued.map(JSONValue.int) ?? .null
                object["claims_last_second"] = .int(Self.claims(inSecond: second, hash: series))
                object["redeemed"] = .int(item.redeemed)
                object["redemption_rate"] = item.flushed > 0 ? .string(String(format: "%.4f", Double(item.redeemed) / Double(item.flushed))) : .null
                campaigns.append(.object(object))
            }
            var body = JSONObject()
            body["campaigns"] = .array(campaigns)
            body["next_cursor"] = listed.count == filter.limit ? listed.last.map { .string(String($0.campaign.id)) } ?? .null : .null
            var writer = JSONWriter()
            writer.write(.object(body))
            return .json(body: writer.bytes)
        }
    }

    /// Claims of every outcome in `second`, from a minute hash's HGETALL reply.
    static func claims(inSecond second: Int64, hash: [RESPValue]) -> Int64 {
        let prefix = "\(second):"
        var total: Int64 = 0
        var index = 0
        while index + 1 < hash.count {
            if let name = hash[index].string, name.hasPrefix(prefix), name != prefix + "remaining", name != prefix + CommitLag.field,
                let value = hash[index + 1].string.flatMap(Int64.init)
            {
                total += value
            }
            index += 2
        }
        return total
    }

    /// `GET /v1/whoami`: the calling key's role, so the console shows what that role may use.
    /// Read from PostgreSQL (once per sign-in), not from the key cache, whose reads have effects.
    func whoami(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let key = APIKey.bearer(request) else { return responder.respond(APIError.unauthorized) }
        api.blocking(responder) { context in
            guard let role = try APIKeyStore.role(forHash: APIKey.hash(key), on: context.postgres()) else { return APIError.unauthorized }
            return .json(body: JSONWriter.object { $0.field("role", role) })
        }
    }

    func series(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
        var seconds = 300
        for name in request.query.keys where name != "seconds" {
            return responder.respond(APIError.invalid("unknown query parameter '\(name.prefix(64))'"))
        }
        if let text = request.query["seconds"] {
            guard let value = ResourceID.parse(text), value <= ClaimSeries.maxSeconds else {
                return responder.respond(APIError.invalid("seconds must be a whole number from 1 to \(ClaimSeries.maxSeconds)"))
            }
            seconds = Int(value)
        }
        api.blocking(responder) { context in
            guard try CampaignStore.find(id: id, on: context.postgres()) != nil else { return APIError.notFound("campaign") }
            let redis = try context.redis()
            let now = Int64(Date().timeIntervalSince1970)
            let remaining = try redis.command(["GET", .string(CampaignKeys(campaignId: id).stock)]).string.flatMap(Int64.init)
            let window = try ClaimSeries.read(campaignId: id, seconds: seconds, now: now, currentRemaining: remaining, redis: redis)
            return .json(body: Self.body(campaignId: id, window))
        }
    }

    static func body(campaignId: Int64, _ window: ClaimSeries.Window) -> [UInt8] {
        JSONWriter.object { object in
            object.field("campaign_id", campaignId)
            object.field("from", RFC3339.format(epochMs: window.from * 1000))
            object.field("seconds", window.seconds)
            object.objectField("claims") { claims in
                for outcome in window.counts.keys.sorted() {
                    claims.field(outcome, .array(window.counts[outcome]!.map(JSONValue.int)))
                }
            }
            object.field("remaining", .array(window.remaining.map { $0.map(JSONValue.int) ?? .null }))
            object.field("lag_ms", .array(window.lagMs.map { $0.map(JSONValue.int) ?? .null }))
        }
    }
}
