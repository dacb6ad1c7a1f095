/// A coupon template: what every coupon issued from it is worth, where and when it can be
/// used. Campaigns offer a template's coupons; the template itself holds no stock.
public struct CouponTemplate: Sendable, Equatable, Hashable {
    /// Assigned by storage; nil before the template is saved.
    public var id: Int64?
    public var name: String
    /// ISO 4217 code, three upper-case ASCII letters (`CNY`).
    public var currency: String
    public var kind: CouponKind
    public var scope: CouponScope
    public var validity: ValidityRule

    public init(
        id: Int64? = nil, name: String, currency: String, kind: CouponKind, scope: CouponScope = .everywhere,
        validity: ValidityRule
    ) {
        self.id = id
        self.name = name
        self.currency = currency
        self.kind = kind
        self.scope = scope
        self.validity = validity
    }

    /// Every problem with this template, in wire field order; empty when it can be stored.
    public func validationErrors() -> [ValidationError] {
        var errors: [ValidationError] = []
        if let id, id <= 0 { errors.append(ValidationError(field: "id", message: "must be a positive integer")) }
        if let message = Self.nameProblem(name) { errors.append(ValidationError(field: "name", message: message)) }
        if !Self.isCurrencyCode(currency) {
            errors.append(ValidationError(field: "currency", message: "must be an ISO 4217 code of 3 upper-case letters"))
        }
        errors += kind.validationErrors()
        errors += scope.validationErrors()
        errors += validity.validationErrors()
        return errors
    }

    static func nameProblem(_ name: String) -> String? {
        let max = CouponCore.maxNameLength
        if name.isEmpty || name.count > max { return "must be 1 to \(max) characters" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "must not contain control characters"
        }
        if name.allSatisfy(\.isWhitespace) { return "must not be blank" }
        return nil
    }

    public static func isCurrencyCode(_ text: String) -> Bool {
        text.utf8.count == 3 && text.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A }
    }
}
