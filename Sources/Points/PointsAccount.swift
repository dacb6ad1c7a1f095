import RedisClient

/// One lot of a balance: points that expire together.
public struct PointsLot: Sendable, Equatable {
    /// nil: never expires.
    public let expiresAtMs: Int64?
    public let points: Int64

    public init(expiresAtMs: Int64?, points: Int64) {
        self.expiresAtMs = expiresAtMs
        self.points = points
    }
}

/// A user's balance as Redis holds it (the hot copy; `points_ledger` is the record). Lots whose
/// expiry has passed but that the sweep has not reached yet are left out: a balance never
/// includes an expired lot.
public struct PointsAccount: Sendable, Equatable {
    public let userId: String
    /// Live lots, earliest expiry first (never-expiring last).
    public let lots: [PointsLot]

    public var balance: Int64 { lots.reduce(0) { $0 + $1.points } }
    public var nextExpiry: PointsLot? { lots.first { $0.expiresAtMs != nil } }

    public init(userId: String, lots: [PointsLot]) {
        self.userId = userId
        self.lots = lots
    }

    /// From the account hash's HGETALL reply, as of `nowMs`.
    public init(userId: String, hash reply: RESPValue, nowMs: Int64) {
        let items = reply.array ?? []
        var lots: [PointsLot] = []
        var index = 0
        while index + 1 < items.count {
            defer { index += 2 }
            guard let field = items[index].string, field.hasPrefix("l:"), let points = items[index + 1].string.flatMap(Int64.init),
                points > 0
            else { continue }
            let expiry = field.dropFirst(2)
            if expiry == "never" {
                lots.append(PointsLot(expiresAtMs: nil, points: points))
            } else if let ms = Int64(expiry), ms > nowMs {
                lots.append(PointsLot(expiresAtMs: ms, points: points))
            }
        }
        self.init(userId: userId, lots: lots.sorted { ($0.expiresAtMs ?? .max) < ($1.expiresAtMs ?? .max) })
    }

    public static func read(_ userId: String, nowMs: Int64, on redis: BlockingRedisConnection) throws -> PointsAccount {
        let reply = try redis.command(["HGETALL", .string(PointsKeys(userId: userId).account(userId))])
        return PointsAccount(userId: userId, hash: reply, nowMs: nowMs)
    }
}

/// An earn or an adjustment (`PointsScripts.credit`).
public struct PointsCredit: Sendable, Equatable {
    public enum Kind: String, Sendable { case earn, adjust }

    public let userId: String
    public let kind: Kind
    /// Positive for earn; either sign (not zero) for adjust.
    public let points: Int64
    /// The lot's expiry for a credit (nil: never); ignored for a debit.
    public let expiresAtMs: Int64?
    public let reason: String
    public let orderId: String?
    public let idempotencyKey: String
    /// Hex digest of the request's meaning: the same key with another digest is a conflict.
    public let digest: String

    /// How long an idempotency key is remembered.
    public static let idempotencyTTLMs: Int64 = 7 * 86_400_000

    public init(
        userId: String, kind: Kind, points: Int64, expiresAtMs: Int64?, reason: String, orderId: String?, idempotencyKey: String,
        digest: String
    ) {
        self.userId = userId
        self.kind = kind
        self.points = points
        self.expiresAtMs = expiresAtMs
        self.reason = reason
        self.orderId = orderId
        self.idempotencyKey = idempotencyKey
        self.digest = digest
    }

    /// The fields that make two requests "the same", for the digest.
    public var identity: String {
        [kind.rawValue, userId, String(points), expiresAtMs.map(String.init) ?? "never", reason, orderId ?? ""].joined(separator: "\n")
    }

    public var call: (keys: [RedisArgument], args: [RedisArgument]) {
        let keys = PointsKeys(userId: userId)
        return (
            [
                .string(keys.account(userId)), .string(keys.due), .string(keys.events), .string(keys.idempotency(userId, idempotencyKey)),
                .string(keys.ready),
            ],
            [
                .string(userId), .string(digest), .int(points), .string(expiresAtMs.map(String.init) ?? "never"), .string(kind.rawValue),
                .string(reason), .string(orderId ?? ""), .string(idempotencyKey), .int(Self.idempotencyTTLMs),
            ]
        )
    }

    public enum Outcome: Sendable, Equatable {
        case applied(seq: Int64, balance: Int64, atMs: Int64)
        case replayed(seq: Int64, balance: Int64, atMs: Int64)
        case conflict
        case insufficientPoints(balance: Int64)
        /// The explicit expiry is already in the past.
        case expired
        /// Redis lost the bucket's data and its accounts are being rebuilt (`PointsRebuild`).
        case rebuilding

        public init?(reply: RESPValue) {
            guard let items = reply.array, let head = items.first?.string else { return nil }
            func record() -> (Int64, Int64, Int64)? {
                guard items.count == 2, let parts = items[1].string?.split(separator: "|"), parts.count == 3,
                    let seq = Int64(parts[0]), let balance = Int64(parts[1]), let at = Int64(parts[2])
                else { return nil }
                return (seq, balance, at)
            }
            switch head {
            case "ok":
                guard let (seq, balance, at) = record() else { return nil }
                self = .applied(seq: seq, balance: balance, atMs: at)
            case "replayed":
                guard let (seq, balance, at) = record() else { return nil }
                self = .replayed(seq: seq, balance: balance, atMs: at)
            case "conflict": self = .conflict
            case "expired": self = .expired
            case "rebuilding": self = .rebuilding
            case "insufficient_points":
                guard items.count == 2, let balance = items[1].string.flatMap(Int64.init) else { return nil }
                self = .insufficientPoints(balance: balance)
            default: return nil
            }
        }
    }

    public func apply(on redis: BlockingRedisConnection) throws -> Outcome {
        let (keys, args) = call
        let reply = try redis.evalScript(PointsScripts.credit, keys: keys, args: args)
        guard let outcome = Outcome(reply: reply) else { throw RedisError.protocolError("unexpected credit reply \(reply)") }
        return outcome
    }
}
