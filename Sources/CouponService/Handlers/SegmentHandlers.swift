import BulkIssuance
import CouponCore
import HTTPServer
import PostgresClient
import Store

/// Segments and campaign audiences (role `admin`; issue 12). Everything runs on worker threads.
struct SegmentHandlers {
    let api: API
    /// Shared with the bulk-grants uploads (`bulk-max-uploads`).
    let uploads: UploadSlots

    /// `POST /v1/segments` (a streaming route): JSON `{"name":…, "rule":{…}}` for a rule
    /// segment, or a list of user ids (one per line or CSV) with `?name=` for an uploaded one.
    /// The list is parsed and copied to PostgreSQL as it arrives (`SegmentStore.createUploaded`,
    /// one transaction: a bad line, too many ids or a client gone mid-upload leave nothing).
    func create(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        let maxMembers = Int64(api.configuration.bulkMaxLines)
        let name = request.query["name"]
        guard uploads.acquire() else { return responder.respond(uploads.refusal) }
        let stream = request.bodyStream ?? HTTPBodyStream(complete: request.body)
        api.blocking(responder) { [uploads] context in
            defer { uploads.release() }
            var upload = BulkUpload(stream)
            do {
                let (firstChunks, first) = try upload.peekFirstByte()
                if first == UInt8(ascii: "{") {
                    var whole = request
                    whole.body = try upload.collect(after: firstChunks, maxBytes: BulkJobHandlers.maxJSONBytes)
                    whole.bodyStream = nil
                    return try Self.createRule(whole, on: context.postgres())
                }
                guard let name, !name.isEmpty, name.utf8.count <= 200 else {
                    return APIError.invalid("an uploaded segment needs ?name= (1 to 200 bytes)")
                }
                let segment = try SegmentStore.createUploaded(name: name, maxMembers: maxMembers, on: context.postgres()) { sink in
                    var reader = BulkLineReader()
                    for chunk in firstChunks { try reader.feed(chunk, sink) }
                    while let chunk = try upload.next() { try reader.feed(chunk, sink) }
                    try reader.finish(sink)
                }
                return Self.describe(segment, status: 201)
            } catch is BulkUpload.CutOff {
                // The client is gone; the transaction rolled back. Nobody reads this answer.
                return .error(status: 400, code: "upload_cut_off", message: "the connection closed before the body ended")
            } catch let error as BulkLineReader.InvalidLine {
                return APIError.invalid(error.description)
            } catch BulkJobStore.Failure.emptyUpload {
                return APIError.invalid("the body holds no user ids: send one per line or CSV with the user id first")
            } catch BulkJobStore.Failure.tooManyLines(let limit) {
                return .error(status: 413, code: "too_many_lines", message: "a segment holds at most \(limit) user ids (bulk-max-lines)")
            }
        }
    }

    /// `{"name":…, "rule":{…}}`: a rule segment, computed now. On the upload's worker.
    private static func createRule(_ request: HTTPRequest, on postgres: PostgresConnection) throws -> HTTPResponse {
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return failure.response
        }
        guard let name = body["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 200 else {
            return APIError.invalid("name must be a string of 1 to 200 bytes")
        }
        let rule: SegmentRule
        do throws(SegmentRule.Invalid) {
            rule = try SegmentRule(json: body["rule"] ?? .null)
        } catch {
            return APIError.invalid(error.message)
        }
        return describe(try SegmentStore.createRule(name: name, rule: rule, on: postgres), status: 201)
    }

    func get(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("segment")) }
        api.blocking(responder) { context in
            guard let segment = try SegmentStore.find(id: id, on: context.postgres()) else { return APIError.notFound("segment") }
            return Self.describe(segment, status: 200)
        }
    }

    /// Recomputes a rule segment and republishes the audiences built on it.
    func refresh(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("segment")) }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard let segment = try SegmentStore.refresh(id: id, on: postgres) else { return APIError.notFound("segment") }
            try SegmentStore.syncAudiences(postgres: postgres, redis: context.redis())
            return Self.describe(segment, status: 200)
        }
    }

    /// `POST /v1/campaigns/{id}/audience` `{"segment_id": N}` (or null to open the campaign to all).
    func setAudience(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id") else { return responder.respond(APIError.notFound("campaign")) }
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        var segmentId: Int64?
        switch body["segment_id"] {
        case .some(.null): segmentId = nil
        case .some(let value):
            guard let id = value.int64Value, id > 0 else { return responder.respond(APIError.invalid("segment_id must be a positive integer or null")) }
            segmentId = id
        case .none: return responder.respond(APIError.invalid("segment_id is required (null removes the audience)"))
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard let campaign = try CampaignStore.find(id: campaignId, on: postgres) else { return APIError.notFound("campaign") }
            if let refusal = campaign.refusesOnShards("an audience") { return APIError.sharded(refusal) }
            if let segmentId, try SegmentStore.find(id: segmentId, on: postgres) == nil {
                return APIError.invalid("segment_id: no segment with id \(segmentId)")
            }
            try SegmentStore.setAudience(campaignId: campaignId, segmentId: segmentId, postgres: postgres, redis: context.redis())
            return .json(status: 200, body: JSONWriter.object { object in
                object.field("campaign_id", campaignId)
                if let segmentId { object.field("segment_id", segmentId) } else { object.nullField("segment_id") }
            })
        }
    }

    static func describe(_ segment: Segment, status: Int) -> HTTPResponse {
        var writer = JSONWriter()
        writer.writeObject { segment.write(into: &$0) }
        return .json(status: status, body: writer.bytes)
    }
}
