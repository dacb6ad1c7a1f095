import Foundation
import CouponCore
import EventLoop
import HTTPServer
import Issuance
import GrantFlusher
import Points
import PostgresClient
import RedisClient
import Store
import BulkIssuance
import Synchronization

/// What every handler shares: settings, logs, metrics, key cache, worker threads and the
/// per-loop claim engines (each with its loop's Redis). Wired through the initializer, immutable.
final class API: Sendable {
    let configuration: Configuration
    let logger: Logger
    let metrics: Metrics
    let keys: KeyCache
    let limits: AbuseLimits
    let workers: WorkerPool
    let keyLookups = KeyLookups()
    let flusher: Flusher?
    /// Set on SIGTERM (`Node.drain`): `/readyz` answers 503 `draining` from then on.
    let draining = Atomic<Bool>(false)
    private let engines: [ObjectIdentifier: ClaimEngine]
    /// Each loop's last authenticated key (`LastKey`).
    private let lastKeys: [ObjectIdentifier: LastKey]

    init(
        configuration: Configuration, logger: Logger, metrics: Metrics, workers: WorkerPool, engines: [ClaimEngine],
        flusher: Flusher?
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.workers = workers
        self.flusher = flusher
        self.engines = Dictionary(uniqueKeysWithValues: engines.map { (ObjectIdentifier($0.loop), $0) })
        lastKeys = Dictionary(uniqueKeysWithValues: engines.map { (ObjectIdentifier($0.loop), LastKey()) })
        keys = KeyCache(maxAgeSeconds: configuration.keyCacheSeconds)
        limits = AbuseLimits(configuration: configuration, counters: metrics.rateLimited)
    }

    /// The claim engine owned by `loop`.
    func engine(on loop: EventLoop) -> ClaimEngine {
        engines[ObjectIdentifier(loop)]!
    }

    /// The Redis connection owned by `loop`.
    func redis(on loop: EventLoop) -> any AsyncRedis {
        engine(on: loop).redis
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

    /// Wraps `handler` so it runs only for a key whose role is in `roles` and within the
    /// key's and the client address's request rates. Known keys are answered from memory on
    /// the loop (re-validated in the background); an unseen or expired key is looked up on a
    /// worker. `claims`: refusals also count as claim outcomes.
    func guarded(_ roles: Set<Role>, claims: Bool = false, _ handler: @escaping RouteHandler) -> RouteHandler {
        guarded(roles, claims: claims) { request, parameters, _, responder in handler(request, parameters, responder) }
    }

    /// The same, for handlers that need to know who the key acts as (a store key's store).
    func guarded(_ roles: Set<Role>, claims: Bool = false, _ handler: @escaping PrincipalHandler) -> RouteHandler {
        { [self] request, parameters, responder in
            let address = limits.clientAddress(request)
            // The loop's last key again (the usual case): answered as `keys.lookup` would, without it.
            let lastKey = EventLoop.current.flatMap { lastKeys[ObjectIdentifier($0)] }
            if let lastKey,
                let principal = APIKey.withBearerBytes(request, { bytes in
                    bytes.flatMap { lastKey.principal(bearing: $0, now: keys.clock.now(), version: keys.version) }
                })
            {
                return authorized(
                    principal, key: lastKey.key, address: address, roles: roles, claims: claims, handler, request, parameters, responder)
            }
            guard let key = APIKey.bearer(request) else { return refuseAuthentication(address: address, responder) }
            let found = keys.lookupFresh(key)
            switch found.lookup {
            case .known(let principal, let refresh):
                if refresh {
                    revalidate(key)
                } else {
                    lastKey?.remember(key, principal: principal, freshUntil: found.freshUntil, version: found.version)
                }
                authorized(principal, key: key, address: address, roles: roles, claims: claims, handler, request, parameters, responder)
            case .unknown:
                refuseAuthentication(address: address, responder)
            case .miss:
                let exceeded = limits.authFailuresExceeded(address: address)
                guard exceeded == .allowed else { return responder.respond(APIError.rateLimited(exceeded)) }
                guard let loop = EventLoop.current else { return responder.respond(APIError.internalError) }
                let pending = PendingRequest(
                    handler: handler, request: request, parameters: parameters, responder: responder, roles: roles, claims: claims)
                // Requests with this key that arrive while it is looked up wait for that lookup and
                // then run in arrival order: pipelined claims must take effect in order.
                guard keyLookups.wait(pending, key: key, loop: loop) else { return }
                let started = keys.clock.now()
                workers.submit({ context in
                    try APIKeyStore.holder(forHash: APIKey.hash(key), on: context.postgres()).flatMap(KeyPrincipal.init)
                }) { [self] result in
                    loop.execute { [self] in
                        var principal: KeyPrincipal?
                        switch result {
                        case .success(let found):
                            keys.remember(key, principal: found, startedNanos: started)
                            principal = found
                        case .failure(let error):
                            principal = keys.lookupFailed(key, backendUnreachable: Self.isUnreachable(error))
                        }
                        for waiting in keyLookups.finish(key: key, loop: loop) {
                            let address = limits.clientAddress(waiting.request)
                            if let principal {
                                authorized(
                                    principal, key: key, address: address, roles: waiting.roles, claims: waiting.claims, waiting.handler,
                                    waiting.request, waiting.parameters, waiting.responder)
                            } else if case .failure(let error) = result {
                                waiting.responder.respond(APIError.backend(error))
                            } else {
                                refuseAuthentication(address: address, waiting.responder)
                            }
                        }
                    }
                }
            }
        }
    }

    private func authorized(
        _ principal: KeyPrincipal, key: String, address: String, roles: Set<Role>, claims: Bool, _ handler: PrincipalHandler,
        _ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder
    ) {
        guard roles.contains(principal.role) else { return responder.respond(APIError.forbidden(roles)) }
        let (decision, _) = limits.request(key: key, address: address)
        guard decision == .allowed else {
            if claims { metrics.recordClaim(outcome: "rate_limited") }
            return responder.respond(APIError.rateLimited(decision))
        }
        if let name = request.repeatedQueryParameter {
            return responder.respond(APIError.invalid("query parameter '\(name.prefix(64))' is given more than once"))
        }
        handler(request, parameters, principal, responder)
    }

    /// 401 for a missing, unknown or revoked key, counted against the client address; 429 once
    /// the address has failed too often.
    private func refuseAuthentication(address: String, _ responder: Responder) {
        let exceeded = limits.authFailuresExceeded(address: address)
        guard exceeded == .allowed else { return responder.respond(APIError.rateLimited(exceeded)) }
        limits.authFailed(address: address)
        responder.respond(APIError.unauthorized)
    }

    /// Re-reads a cached key's role in the background; requests keep using the cached one.
    private func revalidate(_ key: String) {
        let started = keys.clock.now()
        workers.submit({ context in
            try APIKeyStore.holder(forHash: APIKey.hash(key), on: context.postgres()).flatMap(KeyPrincipal.init)
        }) { [keys] result in
            switch result {
            case .success(let principal): keys.remember(key, principal: principal, startedNanos: started)
            case .failure(let error): _ = keys.lookupFailed(key, backendUnreachable: Self.isUnreachable(error))
            }
        }
    }

    /// PostgreSQL cannot be reached (as opposed to this node being overloaded).
    static func isUnreachable(_ error: Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isConnectionError
    }

    // MARK: Campaigns in Redis

    /// Publishes `campaign` to Redis (idempotent, never resets stock).
    func publish(_ campaign: Campaign, context: WorkerPool.Context) throws {
        let redis = try context.redis()
        let keys = CampaignKeys(campaignId: campaign.id)
        var alreadyIssued: Int64 = 0
        if try redis.command(["HEXISTS", .string(keys.meta), .string(CampaignMeta.stockTotal)]).int != 1 {
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
        // A sharded campaign (issue 10) answers the sums over its shards.
        var remaining: Int64? = 0, issued: Int64? = 0
        for keys in CampaignShards.keys(campaignId: campaign.id, count: campaign.shards) {
            let replies = try redis.pipeline([["GET", .string(keys.stock)], ["HGET", .string(keys.meta), .string(CampaignMeta.issued)]])
            let shardRemaining = try replies[0].get().string.flatMap(Int64.init)
            let shardIssued = try replies[1].get().string.flatMap(Int64.init)
            remaining = remaining.flatMap { total in shardRemaining.map { total + $0 } }
            issued = issued.flatMap { total in shardIssued.map { total + $0 } }
        }
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
        try PointsStore.publishExchanges(from: postgres, to: context.redis())  // issue 11: before the meta can be rebuilt
        try CampaignPublisher.publishAll(campaigns, on: context.redis()) { try CampaignStore.couponCount(id: $0, on: postgres) }
        try SegmentStore.syncAudiences(postgres: postgres, redis: context.redis())  // audiences (issue 12)
        return campaigns.count
    }
}

/// A route handler that is told who the request's key acts as.
typealias PrincipalHandler = (HTTPRequest, RouteParameters, KeyPrincipal, Responder) -> Void

/// A request waiting for its key to be looked up; handed back to its loop before use.
final class PendingRequest: @unchecked Sendable {  // created and consumed on one loop; only carried by a worker
    let handler: PrincipalHandler
    let request: HTTPRequest
    let parameters: RouteParameters
    let responder: Responder
    let roles: Set<Role>
    let claims: Bool

    init(
        handler: @escaping PrincipalHandler, request: HTTPRequest, parameters: RouteParameters, responder: Responder, roles: Set<Role>,
        claims: Bool
    ) {
        self.claims = claims
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
