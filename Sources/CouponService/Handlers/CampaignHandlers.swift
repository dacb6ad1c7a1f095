import BulkIssuance
import CouponCore
import HTTPServer
import Points
import Issuance
import RedisClient
import Store

/// Templates and campaigns (role `admin`; reads also `finance`). These run on worker
/// threads: PostgreSQL first (the system of record), then the campaign is published to Redis.
struct CampaignHandlers {
    let api: API

    func createTemplate(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let template: CouponTemplate
        do throws(ValidationError) {
            template = try CouponTemplate(jsonBytes: request.body)
        } catch {
            return responder.respond(APIError.invalid([error]))
        }
        guard template.id == nil else { return responder.respond(APIError.invalid("id is assigned by the server")) }
        let key: IdempotencyKey?
        switch IdempotencyKey.of(request, route: "POST /v1/templates") {
        case .success(let value): key = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        api.blocking(responder) { context in
            var spec = JSONWriter()
            spec.write(template.json)
            let postgres = try context.postgres()
            let record: TemplateRecord
            switch try IdempotencyKey.create(key, on: postgres, { connection in
                let record = try TemplateStore.insert(
                    name: template.name, currency: template.currency, kind: template.kind.wireName,
                    specJSON: String(decoding: spec.bytes, as: UTF8.self), faceValue: template.kind.faceValue,
                    on: connection)
                return (record, record.id)
            }) {
            case .created(let created): record = created
            case .existing(let id):
                guard let found = try TemplateStore.find(id: id, on: postgres) else { return APIError.notFound("template") }
                record = found
            case .conflict: return IdempotencyKey.conflict
            }
            return .json(status: 201, body: try Self.templateBody(record))
        }
    }

    func getTemplate(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("template")) }
        api.blocking(responder) { context in
            guard let record = try TemplateStore.find(id: id, on: context.postgres()) else { return APIError.notFound("template") }
            return .json(body: try Self.templateBody(record))
        }
    }

    func createCampaign(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        var body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        // `audience: {"segment_id": N}` (issue 12): the campaign is targeted from its first claim.
        var audience: Int64?
        if case .object(var object) = body, let value = object["audience"] {
            guard case .object(let fields) = value, fields.count == 1, let id = fields["segment_id"]?.int64Value, id > 0 else {
                return responder.respond(APIError.invalid("audience must be {\"segment_id\": N} with N a positive segment id"))
            }
            audience = id
            object["audience"] = nil
            body = .object(object)
        }
        let key: IdempotencyKey?
        switch IdempotencyKey.of(request, route: "POST /v1/campaigns") {
        case .success(let value): key = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        api.blocking(responder) { [api] context in
            let postgres = try context.postgres()
            var template: CouponTemplate?
            if let id = body["template_id"]?.int64Value, let record = try TemplateStore.find(id: id, on: postgres) {
                template = try Self.decodeTemplate(record)
            }
            var campaign: Campaign
            let exchange: ExchangeSettings?  // issue 11: `points_cost`, `min_points_balance`
            do throws(ValidationError) {
                let fields: JSONValue
                do throws(ExchangeSettingsError) { (fields, exchange) = try ExchangeSettings.split(campaignBody: body) } catch {
                    return APIError.invalid(error.description)
                }
                campaign = try Campaign(json: fields) { _ in template?.validity }
            } catch {
                return APIError.invalid([error])
            }
            guard template != nil else { return APIError.invalid("template_id: no template with id \(campaign.templateId)") }
            for (feature, used) in [("points_cost", exchange != nil), ("audience", audience != nil), ("period caps", campaign.periodCaps != nil)] {
                if used, let refusal = campaign.refusesOnShards(feature) { return APIError.invalid(refusal) }
            }
            if let audience, try SegmentStore.find(id: audience, on: postgres) == nil {
                return APIError.invalid("audience.segment_id: no segment with id \(audience)")
            }
            let valid = campaign
            switch try IdempotencyKey.create(key, on: postgres, { connection in
                let created = try CampaignStore.insert(valid, on: connection)
                if let exchange { _ = try PointsStore.saveExchange(campaignId: created.id, settings: exchange, on: connection) }
                if let audience { try SegmentStore.saveAudience(campaignId: created.id, segmentId: audience, on: connection) }
                return (created, created.id)
            }) {
            case .created(let created):
                campaign = created
                api.logger.info("campaign_created", ["campaign_id": String(campaign.id), "stock": String(campaign.stockTotal)])
            case .existing(let id):
                // A retry: answer the campaign the first request created (publishing is idempotent,
                // so a first attempt that saved but could not publish is published now).
                guard let found = try CampaignStore.find(id: id, on: postgres) else { return APIError.notFound("campaign") }
                campaign = found
            case .conflict: return IdempotencyKey.conflict
            }
            // An exchange campaign's marker reaches Redis before the campaign does: no plain claim slips in.
            try PointsStore.publishExchange(campaignId: campaign.id, from: postgres, to: context.redis())
            // The audience set and `aud` = 1 reach Redis before the campaign's meta: no claim is
            // ever decided without the audience check.
            if let segment = try SegmentStore.audience(campaignId: campaign.id, on: postgres) {
                try SegmentStore.publishAudience(campaignId: campaign.id, segmentId: segment, postgres: postgres, redis: context.redis())
            }
            return try api.publishAndDescribe(campaign, context: context, status: 201)
        }
    }

    func getCampaign(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
        api.blocking(responder) { [api] context in
            guard let campaign = try CampaignStore.find(id: id, on: context.postgres()) else { return APIError.notFound("campaign") }
            return .json(body: try api.describe(campaign, redis: context.redis()))
        }
    }

    func setState(_ state: Campaign.State) -> RouteHandler {
        { [api] request, parameters, responder in
            guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
            api.blocking(responder) { context in
                let postgres = try context.postgres()
                guard let current = try CampaignStore.find(id: id, on: postgres) else { return APIError.notFound("campaign") }
                guard current.state != .ended else {
                    return .error(status: 409, code: "campaign_ended", message: "an ended campaign cannot change state")
                }
                guard let campaign = try CampaignStore.setState(id: id, state, on: postgres) else { return APIError.notFound("campaign") }
                api.logger.info("campaign_state", ["campaign_id": String(id), "state": state.rawValue])
                return try api.publishAndDescribe(campaign, context: context, status: 200)
            }
        }
    }

    func addStock(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
        let units: Int64
        switch RequestBody.object(request) {
        case .success(let body):
            guard let add = body["add"]?.int64Value, add > 0, add <= Campaign.maxStock, body.objectValue?.count == 1 else {
                return responder.respond(APIError.invalid("send {\"add\": N} with N from 1 to \(Campaign.maxStock)"))
            }
            units = add
        case .failure(let failure): return responder.respond(failure.response)
        }
        api.blocking(responder) { [api] context in
            let postgres = try context.postgres()
            guard let current = try CampaignStore.find(id: id, on: postgres) else { return APIError.notFound("campaign") }
            guard current.state != .ended else {
                return .error(status: 409, code: "campaign_ended", message: "an ended campaign cannot get more stock")
            }
            guard let campaign = try CampaignStore.addStock(id: id, units: units, on: postgres) else {
                return APIError.invalid("stock would exceed \(Campaign.maxStock)")
            }
            api.logger.info("campaign_stock", ["campaign_id": String(id), "added": String(units)])
            return try api.publishAndDescribe(campaign, context: context, status: 200)
        }
    }

    static func decodeTemplate(_ record: TemplateRecord) throws -> CouponTemplate {
        var template = try CouponTemplate(json: JSONParser.parse(record.specJSON))
        template.id = record.id
        return template
    }

    static func templateBody(_ record: TemplateRecord) throws -> [UInt8] {
        var writer = JSONWriter()
        writer.write(try decodeTemplate(record).json)
        return writer.bytes
    }
}
