/// Where a coupon may be used. An empty list means "any": a coupon is usable when its
/// business lines are empty or contain the order's line, AND its stores are empty or contain
/// the order's store. An order that names no line (or store) only matches an empty list.
public struct CouponScope: Sendable, Equatable, Hashable {
    public var businessLines: [String]
    public var storeIds: [String]

    public init(businessLines: [String] = [], storeIds: [String] = []) {
        self.businessLines = businessLines
        self.storeIds = storeIds
    }

    /// Usable everywhere.
    public static let everywhere = CouponScope()

    public func admits(businessLine: String?, storeId: String?) -> Bool {
        Self.matches(businessLines, businessLine) && Self.matches(storeIds, storeId)
    }

    private static func matches(_ allowed: [String], _ value: String?) -> Bool {
        if allowed.isEmpty { return true }
        guard let value else { return false }
        return allowed.contains(value)
    }

    /// The problems with these lists (size and identifier syntax); empty when valid.
    public func validationErrors() -> [ValidationError] {
        var errors: [ValidationError] = []
        for (field, list) in [("scope.business_lines", businessLines), ("scope.store_ids", storeIds)] {
            if list.count > CouponCore.maxScopeEntries {
                errors.append(ValidationError(field: field, message: "must have at most \(CouponCore.maxScopeEntries) entries"))
                continue
            }
            for (index, entry) in list.enumerated() where !Identifier.isValid(entry) {
                errors.append(ValidationError(field: "\(field)[\(index)]", message: Identifier.rule))
            }
        }
        return errors
    }
}
