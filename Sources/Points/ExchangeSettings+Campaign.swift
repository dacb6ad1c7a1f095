import CouponCore

/// Exchange settings given as fields of campaign creation (`POST /v1/campaigns` with
/// `points_cost` and optional `min_points_balance`), or of `PUT /v1/campaigns/{id}/points`.
extension ExchangeSettings {
    public static let maxPoints: Int64 = 1_000_000_000
    public static let fieldNames: Set<String> = ["points_cost", "min_points_balance"]

    /// The settings in `body` (nil when it has no `points_cost`); a message on a bad value.
    public static func decode(_ body: JSONValue) throws(ExchangeSettingsError) -> ExchangeSettings? {
        guard let value = body["points_cost"], !value.isNull else {
            if body["min_points_balance"].map({ !$0.isNull }) ?? false { throw ExchangeSettingsError("min_points_balance needs points_cost") }
            return nil
        }
        guard let cost = value.int64Value, (0...maxPoints).contains(cost) else {
            throw ExchangeSettingsError("points_cost must be an integer from 0 to \(maxPoints)")
        }
        let minimum = body["min_points_balance"]?.int64Value ?? 0
        guard (0...maxPoints).contains(minimum), body["min_points_balance"].map({ $0.isNull || $0.int64Value != nil }) ?? true else {
            throw ExchangeSettingsError("min_points_balance must be an integer from 0 to \(maxPoints)")
        }
        return ExchangeSettings(pointsCost: cost, minPointsBalance: minimum)
    }

    /// Splits a campaign creation body into the campaign's own fields and the exchange settings.
    public static func split(campaignBody body: JSONValue) throws(ExchangeSettingsError) -> (campaign: JSONValue, exchange: ExchangeSettings?) {
        guard case .object(let object) = body, fieldNames.contains(where: object.contains) else { return (body, nil) }
        let settings = try decode(body)
        return (.object(JSONObject(object.members.filter { !fieldNames.contains($0.key) }.map { ($0.key, $0.value) })), settings)
    }
}

public struct ExchangeSettingsError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
