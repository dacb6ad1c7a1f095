import CouponCore
import Issuance
import RedisClient

/// A points exchange (积分兑换, issue 11): the user's points and the campaign's stock live in
/// different slots, so the exchange is three idempotent single-slot steps keyed by the request:
///
/// 1. `reserve` (user's bucket): check `min_points_balance` and the cost, spend the points
///    (a `spend` event) and record the reservation as pending;
/// 2. claim (campaign's slot, `ExchangeClaimScript`): the usual claim decision, recorded under
///    the request id whatever it is;
/// 3. `finish` (user's bucket): commit on a grant, refund (a `refund` event) on a refusal.
///
/// A node that dies between steps leaves the reservation pending; `ExchangeRecovery` re-runs
/// steps 2 and 3 for reservations older than its grace period. Step 2 replays its recorded
/// decision, so every runner finishes the same way: never a grant without its spend, never a
/// spend that ends without a grant or a refund.
///
/// A paid draw attempt reserves its points the same way (`drawId` set, `campaignId` 0): step 2
/// is the draw's script (`DrawRunner`), which also records refusals under the request id.
public struct ExchangeRequest: Sendable, Equatable {
    public let campaignId: Int64
    public let userId: String
    public let requestId: String
    public let tags: [String]
    /// Set for a draw attempt's reservation.
    public let drawId: Int64?

    public init(campaignId: Int64, userId: String, requestId: String, tags: [String] = []) {
        self.campaignId = campaignId
        self.userId = userId
        self.requestId = requestId
        self.tags = tags
        drawId = nil
    }

    public init(drawId: Int64, userId: String, requestId: String) {
        campaignId = 0
        self.userId = userId
        self.requestId = requestId
        tags = []
        self.drawId = drawId
    }

    /// The reservation's name in its bucket (`|` cannot occur in identifiers).
    public var member: String { drawId.map { "d\($0)|\(userId)|\(requestId)" } ?? "\(campaignId)|\(userId)|\(requestId)" }
    public var pointsKeys: PointsKeys { PointsKeys(userId: userId) }
    public var campaignKeys: CampaignKeys { CampaignKeys(campaignId: campaignId) }
}

/// A campaign's exchange settings as kept in its Redis meta hash (`pcost`, `pmin`, `pdraw`).
/// A prize campaign of a draw (`prizeOfDraw`) has cost 0, so a plain claim is refused
/// (`points_required`) like any exchange campaign's, and is not exchangeable either
/// (`not_exchange`): only its draw's prize script grants its coupons.
public struct ExchangeSettings: Sendable, Equatable {
    public static let costField = CampaignMeta.pointsCost
    public static let minimumField = CampaignMeta.pointsMinimum
    public static let prizeField = "pdraw"

    public let pointsCost: Int64
    public let minPointsBalance: Int64
    public let prizeOfDraw: Int64?

    public init(pointsCost: Int64, minPointsBalance: Int64, prizeOfDraw: Int64? = nil) {
        self.pointsCost = pointsCost
        self.minPointsBalance = minPointsBalance
        self.prizeOfDraw = prizeOfDraw
    }

    public static func prize(of drawId: Int64) -> ExchangeSettings { ExchangeSettings(pointsCost: 0, minPointsBalance: 0, prizeOfDraw: drawId) }

    public static func readCommand(_ keys: CampaignKeys) -> [RedisArgument] {
        ["HMGET", .string(keys.meta), .string(costField), .string(minimumField), .string(prizeField)]
    }

    /// nil when the campaign is not an exchange campaign.
    public init?(reply: RESPValue) {
        guard let items = reply.array, items.count >= 2, let cost = items[0].string.flatMap(Int64.init) else { return nil }
        self.init(
            pointsCost: cost, minPointsBalance: items[1].string.flatMap(Int64.init) ?? 0,
            prizeOfDraw: items.count > 2 ? items[2].string.flatMap(Int64.init) : nil)
    }

    public func writeCommand(_ keys: CampaignKeys) -> [RedisArgument] {
        var command: [RedisArgument] = [
            "HSET", .string(keys.meta), .string(Self.costField), .int(pointsCost), .string(Self.minimumField), .int(minPointsBalance),
        ]
        if let prizeOfDraw { command += [.string(Self.prizeField), .int(prizeOfDraw)] }
        return command
    }
}

/// What step 1 answered.
public enum ReserveOutcome: Sendable, Equatable {
    case reserved(balance: Int64)
    /// The request reserved before; its state (`reserved`, `committed`, `refunded`) and detail
    /// (the coupon code or the refusal).
    case exists(state: String, detail: String)
    case refused(code: String, balance: Int64)

    init?(reply: RESPValue) {
        guard let items = reply.array, let head = items.first?.string else { return nil }
        switch head {
        case "reserved":
            guard items.count == 2, let balance = items[1].string.flatMap(Int64.init) else { return nil }
            self = .reserved(balance: balance)
        case "exists":
            guard items.count == 3, let state = items[1].string else { return nil }
            self = .exists(state: state, detail: items[2].string ?? "")
        case "rebuilding": self = .refused(code: "points_unavailable", balance: 0)
        case "below_min_balance", "insufficient_points":
            guard items.count == 2, let balance = items[1].string.flatMap(Int64.init) else { return nil }
            self = .refused(code: head, balance: balance)
        default: return nil
        }
    }
}

/// How an exchange ended, as the API answers it.
public enum ExchangeResult: Sendable, Equatable {
    case granted(Grant, pointsSpent: Int64)
    case replayed(Grant)
    /// A refusal code: `insufficient_points`, `below_min_balance`, `not_exchange`, or a claim
    /// refusal (`sold_out`, `limit_reached`, …, `unknown_campaign`, `request_conflict`); any
    /// points reserved for it were refunded.
    case refused(String)
}

/// What step 1 (the points reservation) decided, for an exchange and a paid draw alike.
enum ReserveStep: Equatable {
    /// Go on to the claim or draw step (a new reservation, or one pending or committed by an
    /// earlier attempt: the next step answers and finishing is idempotent).
    case proceed
    /// Refused (or refunded by an earlier attempt) with this code.
    case refused(String)
}

extension Exchange {
    /// Runs step 1 — the reservation script — for `request` and says what comes next.
    static func reserve(
        _ request: ExchangeRequest, settings: ExchangeSettings, redis: any AsyncRedis,
        _ completion: @escaping (Result<ReserveStep, RedisError>) -> Void
    ) {
        let call = reserveCall(request, settings: settings)
        redis.evalScript(PointsScripts.reserve, keys: call.keys, args: call.args) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let reply):
                switch ReserveOutcome(reply: reply) {
                case .refused(let refusal, _): completion(.success(.refused(refusal)))
                case .exists(state: "refunded", let reason): completion(.success(.refused(reason)))
                case .reserved, .exists: completion(.success(.proceed))
                case nil: completion(.failure(.protocolError("unexpected reserve reply \(reply)")))
                }
            }
        }
    }
}

extension Exchange {
    public static func reserveCall(_ request: ExchangeRequest, settings: ExchangeSettings) -> (keys: [RedisArgument], args: [RedisArgument]) {
        let keys = request.pointsKeys
        return (
            [
                .string(keys.account(request.userId)), .string(keys.due), .string(keys.events), .string(keys.reservation(request.member)),
                .string(keys.pending), .string(keys.ready),
            ],
            [
                .string(request.userId), .string(request.member), .int(settings.pointsCost), .int(settings.minPointsBalance),
                .string(request.drawId == nil ? String(request.campaignId) : ""), .string(request.requestId),
                .string(request.tags.joined(separator: ",")), .string(request.drawId.map(String.init) ?? ""),
            ]
        )
    }

    /// `detail`: the coupon code (commit) or the refusal code (refund).
    public static func finishCall(_ request: ExchangeRequest, commit: Bool, detail: String) -> (keys: [RedisArgument], args: [RedisArgument]) {
        let keys = request.pointsKeys
        return (
            [
                .string(keys.account(request.userId)), .string(keys.due), .string(keys.events), .string(keys.reservation(request.member)),
                .string(keys.pending), .string(keys.ready),
            ],
            [.string(request.member), .string(commit ? "commit" : "refund"), .string(detail), .int(finishedTTLMs)]
        )
    }

    /// What step 3 must do after step 2 decided `decision`: commit with the code, or refund with the reason.
    public static func finishing(_ decision: ClaimDecision) -> (commit: Bool, detail: String) {
        switch decision {
        case .granted(let grant), .replayed(let grant): (true, grant.code)
        case .refused(let refusal): (false, refusal.rawValue)
        case .unknownCampaign: (false, "unknown_campaign")
        case .requestConflict: (false, "request_conflict")
        }
    }
}

public enum Exchange {
    /// A finished reservation is kept this long (a retry of the request within it is answered
    /// from it); the claim's request record lives as long (`ClaimScript.requestTTLMs`).
    public static let finishedTTLMs: Int64 = ClaimScript.requestTTLMs
}
