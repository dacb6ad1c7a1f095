import RedisClient

/// What happened to a balance; the `kind` column of `points_ledger`.
public enum PointsEventKind: String, Sendable, CaseIterable {
    case earn, spend, refund, expire, adjust
}

/// One points ledger event as the scripts append it to the bucket's stream, and the one codec
/// for its fields (the scripts' Lua writes exactly these names; `PointsScripts.fields`).
public struct PointsEvent: Sendable, Equatable {
    public var userId: String
    /// The user's event number (1, 2, …): `(user_id, seq)` is unique in PostgreSQL.
    public var seq: Int64
    public var kind: PointsEventKind
    /// Signed change of the balance.
    public var points: Int64
    public var balanceAfter: Int64
    public var atMs: Int64
    /// earn/adjust: the expiry of the lot credited; expire: the lot that expired (nil: never).
    public var lotExpiryMs: Int64?
    public var reason: String?
    public var orderId: String?
    public var idempotencyKey: String?
    /// spend/refund: the exchange's request id (with `campaignId`, the coupon it paid for).
    public var requestId: String?
    public var campaignId: Int64?
    /// spend/refund of a draw attempt: the draw (with `requestId`, the attempt).
    public var drawId: Int64?
    /// Entry id in the stream (not stored in PostgreSQL).
    public var streamId: String = ""

    public init(
        userId: String, seq: Int64, kind: PointsEventKind, points: Int64, balanceAfter: Int64, atMs: Int64,
        lotExpiryMs: Int64? = nil, reason: String? = nil, orderId: String? = nil, idempotencyKey: String? = nil,
        requestId: String? = nil, campaignId: Int64? = nil, drawId: Int64? = nil
    ) {
        self.userId = userId
        self.seq = seq
        self.kind = kind
        self.points = points
        self.balanceAfter = balanceAfter
        self.atMs = atMs
        self.lotExpiryMs = lotExpiryMs
        self.reason = reason
        self.orderId = orderId
        self.idempotencyKey = idempotencyKey
        self.requestId = requestId
        self.campaignId = campaignId
        self.drawId = drawId
    }

    /// Decodes one stream entry's field list; nil when a required field is missing or malformed.
    public init?(streamId: String, fields: [String: String]) {
        guard let user = fields["u"], let seq = fields["s"].flatMap(Int64.init), let kind = fields["k"].flatMap(PointsEventKind.init),
            let points = fields["p"].flatMap(Int64.init), let balance = fields["b"].flatMap(Int64.init),
            let at = fields["at"].flatMap(Int64.init)
        else { return nil }
        func text(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(
            userId: user, seq: seq, kind: kind, points: points, balanceAfter: balance, atMs: at,
            lotExpiryMs: text("e").flatMap(Int64.init), reason: text("r"), orderId: text("o"), idempotencyKey: text("i"),
            requestId: text("x"), campaignId: text("c").flatMap(Int64.init), drawId: text("d").flatMap(Int64.init))
        self.streamId = streamId
    }

    /// Parses an XREADGROUP / XAUTOCLAIM entry list (`[[id, [f, v, …]], …]`); unparseable entries
    /// are returned in `bad` so they can be logged and acknowledged instead of blocking the stream.
    public static func parse(entries: [RESPValue]) -> (events: [PointsEvent], bad: [String]) {
        var events: [PointsEvent] = []
        var bad: [String] = []
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
            let fields = RESPValue.fieldMap(parts[1].array ?? [])
            if let event = PointsEvent(streamId: id, fields: fields) { events.append(event) } else { bad.append(id) }
        }
        return (events, bad)
    }
}
