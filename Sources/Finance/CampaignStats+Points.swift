import CouponCore
import PostgresClient

/// Points figures of an exchange campaign's stats (issue 11), from `points_ledger`: exchanges
/// that spent points, those refunded, and the points consumed net of refunds (revoke refunds
/// included). Nil for a campaign that is not an exchange campaign (nor a draw's prize campaign).
public struct ExchangePointsStats: Sendable, Equatable {
    public let pointsCost: Int64
    public let minPointsBalance: Int64
    /// The draw this is a prize campaign of (its points are the draw's, see `GET /v1/draws/{id}`).
    public let prizeOfDraw: Int64?
    public let spends: Int64
    public let refunds: Int64
    public let pointsConsumed: Int64

    func write(into object: inout JSONObjectWriter) {
        object.field("points_cost", pointsCost)
        object.field("min_points_balance", minPointsBalance)
        if let prizeOfDraw { object.field("prize_of_draw", prizeOfDraw) } else { object.nullField("prize_of_draw") }
        object.field("spends", spends)
        object.field("refunds", refunds)
        object.field("points_consumed", pointsConsumed)
    }
}
