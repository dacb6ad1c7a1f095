import BulkIssuance
import CouponCore
import HTTPServer
import Store

/// Bulk grant jobs (role `admin`). The upload is parsed and copied to PostgreSQL on a worker
/// thread (`BulkJobStore.create`, one transaction: a bad line leaves nothing behind); the
/// job itself runs on whichever node's `BulkJobRunner` takes its lease.
struct BulkJobHandlers {
    let api: API

    func create(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else {
            return responder.respond(APIError.notFound("campaign"))
        }
        if Self.isJSON(request.body) { return createFromSegment(campaignId, request, responder) }
        let key: IdempotencyKey?
        switch IdempotencyKey.of(request, route: "POST /v1/campaigns/{id}/bulk-grants") {
        case .success(let value): key = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        let maxLines = Int64(api.configuration.bulkMaxLines)
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard let campaign = try CampaignStore.find(id: campaignId, on: postgres) else { return APIError.notFound("campaign") }
            if let refusal = campaign.refusesOnShards("bulk grant jobs") { return APIError.sharded(refusal) }
            let job: BulkJob
            do {
                switch try IdempotencyKey.create(key, on: postgres, { connection in
                    let created = try BulkJobStore.create(campaignId: campaignId, maxLines: maxLines, on: connection) { sink in
                        var reader = BulkLineReader()
                        try reader.feed(request.body, sink)
                        try reader.finish(sink)
                    }
                    return (created, created.id)
                }) {
                case .created(let created): job = created
                case .existing(let id):
                    guard let found = try BulkJobStore.find(id: id, on: postgres) else { return APIError.notFound("job") }
                    job = found
                case .conflict: return IdempotencyKey.conflict
                }
            } catch let error as BulkLineReader.InvalidLine {
                return APIError.invalid(error.description)
            } catch BulkJobStore.Failure.emptyUpload {
                return APIError.invalid("the body holds no user ids: send one per line or CSV with the user id first")
            } catch BulkJobStore.Failure.tooManyLines(let limit) {
                return .error(status: 413, code: "too_many_lines", message: "a bulk job holds at most \(limit) user ids (bulk-max-lines)")
            }
            return Self.describe(job, status: 202)
        }
    }

    /// `{"segment_id": N}`: a job over the segment's members.
    private func createFromSegment(_ campaignId: Int64, _ request: HTTPRequest, _ responder: Responder) {
        let body: JSONValue
        switch RequestBody.object(request) {
        case .success(let value): body = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        guard let segmentId = body["segment_id"]?.int64Value, segmentId > 0 else {
            return responder.respond(APIError.invalid("segment_id must be a positive integer (or send the user ids, one per line or CSV)"))
        }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard let campaign = try CampaignStore.find(id: campaignId, on: postgres) else { return APIError.notFound("campaign") }
            if let refusal = campaign.refusesOnShards("bulk grant jobs") { return APIError.sharded(refusal) }
            guard try SegmentStore.find(id: segmentId, on: postgres) != nil else { return APIError.invalid("segment_id: no segment with id \(segmentId)") }
            do {
                return Self.describe(try BulkJobStore.create(campaignId: campaignId, segmentId: segmentId, on: postgres), status: 202)
            } catch BulkJobStore.Failure.emptyUpload {
                return APIError.invalid("segment \(segmentId) has no members")
            }
        }
    }

    /// The body is a JSON object (its first non-blank byte is `{`), not a list of ids.
    static func isJSON(_ body: [UInt8]) -> Bool {
        body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{")
    }

    func status(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("job")) }
        api.blocking(responder) { context in
            guard let job = try BulkJobStore.find(id: id, on: context.postgres()) else { return APIError.notFound("job") }
            return Self.describe(job, status: 200)
        }
    }

    func cancel(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("job")) }
        api.blocking(responder) { context in
            guard let job = try BulkJobStore.cancel(id: id, on: context.postgres()) else { return APIError.notFound("job") }
            return Self.describe(job, status: 200)
        }
    }

    func refusals(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let id = parameters.resourceID("id") else { return responder.respond(APIError.notFound("job")) }
        api.blocking(responder) { context in
            let postgres = try context.postgres()
            guard try BulkJobStore.find(id: id, on: postgres) != nil else { return APIError.notFound("job") }
            var response = HTTPResponse.text(
                try BulkJobStore.refusalsCSV(jobId: id, on: postgres), contentType: "text/csv; charset=utf-8; header=present")
            response.headers.add(name: "Content-Disposition", value: "attachment; filename=\"job-\(id)-refusals.csv\"")
            return response
        }
    }

    static func describe(_ job: BulkJob, status: Int) -> HTTPResponse {
        var writer = JSONWriter()
        writer.writeObject { job.write(into: &$0) }
        return .json(status: status, body: writer.bytes)
    }
}
