import Foundation
import CouponCore
import EventLoop
import HTTPServer
import Issuance
import Ledger
import PostgresClient
import RedisClient
import Store

/// What every handler shares: settings, logs, metrics, key cache, worker threads and the
/// per-loop Redis connections. Built once before the server starts, read-only afterwards.
final class API: @unchecked Sendable {  // the per-loop tables are filled before serving and only read afterwards
    let configuration: Configuration
    let logger: Logger
    let metrics: Metrics
    let keys = KeyCache()
    let workers: WorkerPool
    var redisByLoop: [ObjectIdentifier: RedisConnection] = [:]
    var codesByLoop: [ObjectIdentifier: CouponCodeGenerator] = [:]
    let keyLookups = KeyLookups()
    /// The per-user grant index and the flushers' dirty set, written after each grant.
    let grantHints = GrantHintWriter()
    var flusher: Flusher?

    init(configuration: Configuration, logger: Logger, metrics: Metrics, workers: WorkerPool) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.workers = workers
    }

    /// The Redis connection owned by `loop`.
    func redis(on loop: EventLoop) -> RedisConnection {
        redisByLoop[ObjectIdentifier(loop)]!
    }

    /// The coupon-code generator owned by `loop`.
    func codes(on loop: EventLoop) -> CouponCodeGenerator {
        codesByLoop[ObjectIdentifier(loop)]!
    }

    // MARK: Blocking work

    /// Runs `body` on a worker thread and answers with what it returns; a thrown
    /// `HTTPResponseError` is answered as is, backend failures as 503/500.
    func blocking(_ responder: Responder, _ body: @escaping (WorkerPool.Context) throws -> HTTPResponse) {
        workers.submit(body) { [logger] result in
            switch result {
            case .success(let response):
                responder.respond(response)
            case .failure(let error as HTTPResponseError):
                responder.respond(error.response)
            case .failure(let error):
                logger.error("request_failed", ["error": "\(error)"])
                responder.respond(APIError.backend(error))
            }
        }
    }

    // MARK: Authentication

    /// Wraps `handler` so it runs only for a key whose role is in `roles`. Known keys are
    /// answered from memory on the loop; an unseen key is looked up once on a worker.
    func guarded(_ roles: Set<Role>, _ handler: @escaping RouteHandler) -> RouteHandler {
        { [self] request, parameters, responder in
            guard let key = APIKey.bearer(request) else { return responder.respond(APIError.unauthorized) }
            let now = MonotonicClock.now()
            switch keys.lookup(key, now: now) {
            case .known(let role):
                guard roles.contains(role) else { return responder.respond(APIError.forbidden(roles)) }
                handler(request, parameters, responder)
            case .unknown:
                responder.respond(APIError.unauthorized)
            case .miss:
                guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
                let pending = PendingRequest(handler: handler, request: request, parameters: parameters, responder: responder, roles: roles)
                // Requests with this key that arrive while it is looked up wait for that lookup and
                // then run in arrival order: pipelined claims must take effect in order.
                guard keyLookups.wait(pending, key: key, loop: loop) else { return }
                workers.submit({ context in
                    try APIKeyStore.role(forHash: APIKey.hash(key), on: context.postgres()).flatMap(Role.init(rawValue:))
                }) { [self] result in
                    loop.execute { [self] in
                        if case .success(let role) = result { keys.remember(key, role: role, now: MonotonicClock.now()) }
                        for waiting in keyLookups.finish(key: key, loop: loop) {
                            let (handler, request, parameters, responder) = (waiting.handler, waiting.request, waiting.parameters, waiting.responder)
                            switch result {
                            case .success(let role):
                                guard let role else { responder.respond(APIError.unauthorized); continue }
                                guard waiting.roles.contains(role) else { responder.respond(APIError.forbidden(waiting.roles)); continue }
                                handler(request, parameters, responder)
                            case .failure(let error):
                                responder.respond(APIError.backend(error))
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Campaigns in Redis

    /// Publishes `campaign` to Redis (idempotent, never resets stock).
    func publish(_ campaign: Campaign, context: WorkerPool.Context) throws {
        let redis = try context.redis()
        let keys = CampaignKeys(campaignId: campaign.id)
        var alreadyIssued: Int64 = 0
        if try redis.command(["HEXISTS", .string(keys.meta), "stock_total"]).int != 1 {
            // Redis has never seen this campaign (or lost it): start from what PostgreSQL holds.
            alreadyIssued = try CampaignStore.couponCount(id: campaign.id, on: context.postgres())
        }
        try CampaignPublisher.publish(campaign, alreadyIssued: alreadyIssued, on: redis)
    }

    /// Publishes, then answers with the campaign and its live counters; 503 when Redis is
    /// down (the change is stored and the next sync publishes it).
    func publishAndDescribe(_ campaign: Campaign, context: WorkerPool.Context, status: Int) throws -> HTTPResponse {
        do {
            try publish(campaign, context: context)
            return .json(status: status, body: try describe(campaign, redis: context.redis()))
        } catch let error as RedisError where error.isUnavailable {
            logger.warning("campaign_publish_deferred", ["campaign_id": String(campaign.id), "error": "\(error)"])
            return .error(
                status: 503, code: "unavailable",
                message: "campaign \(campaign.id) was saved but Redis is unavailable; it is published on the next sync",
                retryAfterSeconds: 1)
        }
    }

    /// The campaign with `remaining` and `issued` as Redis counts them.
    func describe(_ campaign: Campaign, redis: BlockingRedisConnection) throws -> [UInt8] {
        let keys = CampaignKeys(campaignId: campaign.id)
        let replies = try redis.pipeline([["GET", .string(keys.stock)], ["HGET", .string(keys.meta), "issued"]])
        let remaining = try replies[0].get().string.flatMap(Int64.init)
        let issued = try replies[1].get().string.flatMap(Int64.init)
        guard case .object(var object) = campaign.json else { return [] }
        object["remaining"] = remaining.map(JSONValue.int) ?? .null
        object["issued"] = issued.map(JSONValue.int) ?? .null
        var writer = JSONWriter()
        writer.write(.object(object))
        return writer.bytes
    }

    /// Re-publishes every active and paused campaign; returns how many.
    @discardableResult
    func syncCampaigns(context: WorkerPool.Context) throws -> Int {
        let postgres = try context.postgres()
        let campaigns = try CampaignStore.published(on: postgres)
        try CampaignPublisher.publishAll(campaigns, on: context.redis()) { try CampaignStore.couponCount(id: $0, on: postgres) }
        return campaigns.count
    }
}

/// A request waiting for its key to be looked up; handed back to its loop before use.
final class PendingRequest: @unchecked Sendable {  // created and consumed on one loop; only carried by a worker
    let handler: RouteHandler
    let request: HTTPRequest
    let parameters: RouteParameters
    let responder: Responder
    let roles: Set<Role>

    init(handler: @escaping RouteHandler, request: HTTPRequest, parameters: RouteParameters, responder: Responder, roles: Set<Role>) {
        self.handler = handler
        self.request = request
        self.parameters = parameters
        self.responder = responder
        self.roles = roles
    }
}

/// Key lookups in flight, per loop and key, with the requests waiting for each in arrival order.
final class KeyLookups: @unchecked Sendable {  // `waiting` is only touched under `lock` (loops share this)
    private struct Lookup: Hashable {
        let loop: ObjectIdentifier
        let key: String
    }

    private let lock = NSLock()
    private var waiting: [Lookup: [PendingRequest]] = [:]

    /// Queues `request`; true when no lookup of `key` is in flight on `loop` (the caller starts one).
    func wait(_ request: PendingRequest, key: String, loop: EventLoop) -> Bool {
        lock.withLock {
            let lookup = Lookup(loop: ObjectIdentifier(loop), key: key)
            let first = waiting[lookup] == nil
            waiting[lookup, default: []].append(request)
            return first
        }
    }

    /// Ends the lookup of `key` on `loop` and returns the requests that waited for it, oldest first.
    func finish(key: String, loop: EventLoop) -> [PendingRequest] {
        lock.withLock { waiting.removeValue(forKey: Lookup(loop: ObjectIdentifier(loop), key: key)) ?? [] }
    }
}
