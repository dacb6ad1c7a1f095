import BulkIssuance
import CouponCore
import HTTPServer
import PostgresClient
import Store

/// Bulk grant jobs (role `admin`). The upload route streams (`Router.add(streaming: true)`):
/// a worker thread reads the body chunk by chunk as it arrives, parses its lines
/// (`BulkLineReader`) and copies them to PostgreSQL (`BulkJobStore.create`, one transaction:
/// a bad line, too many lines or a client gone mid-upload leave nothing behind). At most
/// `bulk-max-uploads` uploads stream at once per node; the job itself runs on whichever
/// node's `BulkJobRunner` takes its lease.
struct BulkJobHandlers {
    let api: API
    let uploads: UploadSlots

    /// `uploads` is shared with the segment uploads.
    init(api: API, uploads: UploadSlots) {
        self.api = api
        self.uploads = uploads
    }

    static let route = "POST /v1/campaigns/{id}/bulk-grants"
    /// A `{"segment_id": N}` body is small: larger JSON is refused.
    static let maxJSONBytes = 64 * 1024

    func create(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        guard let campaignId = parameters.resourceID("id"), campaignId > 0 else {
            return responder.respond(APIError.notFound("campaign"))
        }
        let key: String?
        switch IdempotencyKey.header(request) {
        case .success(let value): key = value
        case .failure(let failure): return responder.respond(failure.response)
        }
        guard uploads.acquire() else { return responder.respond(uploads.refusal) }
        let stream = request.bodyStream ?? HTTPBodyStream(complete: request.body)
        let maxLines = Int64(api.configuration.bulkMaxLines)
        api.blocking(responder) { [uploads] context in
            defer { uploads.release() }
            var upload = BulkUpload(stream)
            do {
                let (firstChunks, first) = try upload.peekFirstByte()
                if first == UInt8(ascii: "{") {
                    return try Self.createFromSegment(campaignId, request, firstChunks, &upload, context)
                }
                let postgres = try context.postgres()
                guard let campaign = try CampaignStore.find(id: campaignId, on: postgres) else { return APIError.notFound("campaign") }
                if let refusal = campaign.refusesOnShards("bulk grant jobs") { return APIError.sharded(refusal) }
                let copy = { (connection: PostgresConnection) throws -> BulkJob in
                    try BulkJobStore.create(campaignId: campaignId, maxLines: maxLines, on: connection) { sink in
                        var reader = BulkLineReader()
                        for chunk in firstChunks { try reader.feed(chunk, sink) }
                        while let chunk = try upload.next() { try reader.feed(chunk, sink) }
                        try reader.finish(sink)
                    }
                }
                guard let key else { return Self.describe(try copy(postgres), status: 202) }
                switch try IdempotencyStore.createHashingBody(route: Self.route, key: key, on: postgres, { connection in
                    let created = try copy(connection)
                    return (created, created.id, upload.bodySHA256())
                }) {
                case .created(let job): return Self.describe(job, status: 202)
                case .existing(let id):
                    guard let found = try BulkJobStore.find(id: id, on: postgres) else { return APIError.notFound("job") }
                    return Self.describe(found, status: 202)
                case .conflict: return IdempotencyKey.conflict
                }
            } catch is BulkUpload.CutOff {
                // The client is gone; the transaction rolled back. Nobody reads this answer.
                return .error(status: 400, code: "upload_cut_off", message: "the connection closed before the body ended")
            } catch let error as BulkLineReader.InvalidLine {
                return APIError.invalid(error.description)
            } catch BulkJobStore.Failure.emptyUpload {
                return APIError.invalid("the body holds no user ids: send one per line or CSV with the user id first")
            } catch BulkJobStore.Failure.tooManyLines(let limit) {
                return .error(status: 413, code: "too_many_lines", message: "a bulk job holds at most \(limit) user ids (bulk-max-lines)")
            }
        }
    }

    /// `{"segment_id": N}`: a job over the segment's members. On the upload's worker.
    private static func createFromSegment(
        _ campaignId: Int64, _ request: HTTPRequest, _ firstChunks: [[UInt8]], _ upload: inout BulkUpload,
        _ context: WorkerPool.Context
    ) throws -> HTTPResponse {
        var whole = request
        whole.body = try upload.collect(after: firstChunks, maxBytes: maxJSONBytes)
        whole.bodyStream = nil
        let body: JSONValue
        switch RequestBody.object(whole) {
        case .success(let value): body = value
        case .failure(let failure): return failure.response
        }
        guard let segmentId = body["segment_id"]?.int64Value, segmentId > 0 else {
            return APIError.invalid("segment_id must be a positive integer (or send the user ids, one per line or CSV)")
        }
        let postgres = try context.postgres()
        guard let campaign = try CampaignStore.find(id: campaignId, on: postgres) else { return APIError.notFound("campaign") }
        if let refusal = campaign.refusesOnShards("bulk grant jobs") { return APIError.sharded(refusal) }
        guard try SegmentStore.find(id: segmentId, on: postgres) != nil else { return APIError.invalid("segment_id: no segment with id \(segmentId)") }
        do {
            return describe(try BulkJobStore.create(campaignId: campaignId, segmentId: segmentId, on: postgres), status: 202)
        } catch BulkJobStore.Failure.emptyUpload {
            return APIError.invalid("segment \(segmentId) has no members")
        }
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
