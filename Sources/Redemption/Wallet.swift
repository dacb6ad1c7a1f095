import CouponCore
import Issuance
import PostgresClient
import Store

/// One coupon of a user's wallet: a PostgreSQL row, or a grant not flushed yet.
public struct WalletCoupon: Sendable, Equatable {
    public var code: String
    public var campaignId: Int64
    public var templateId: Int64
    public var userId: String
    public var requestId: String
    /// The stored state; see `effectiveState(nowMs:)` for what it is now.
    public var state: CouponState
    public var issuedAtMs: Int64
    public var validFromMs: Int64
    public var validUntilMs: Int64
    public var lockedUntilMs: Int64?
    public var template: CouponTemplate
    /// False for a grant read from Redis that PostgreSQL does not hold yet.
    public var flushed: Bool

    public func effectiveState(nowMs: Int64) -> CouponState {
        CouponLifecycle.effectiveState(state: state, validUntilMs: validUntilMs, lockedUntilMs: lockedUntilMs, nowMs: nowMs)
    }
}

/// A wallet priced against one order: usable coupons best first, then the others with the
/// reason each cannot be used.
public struct PricedWallet: Sendable, Equatable {
    public var usable: [(coupon: WalletCoupon, quote: PricingQuote)]
    public var unusable: [(coupon: WalletCoupon, reason: String)]

    public static func == (lhs: PricedWallet, rhs: PricedWallet) -> Bool {
        lhs.usable.map(\.coupon.code) == rhs.usable.map(\.coupon.code) && lhs.usable.map(\.quote) == rhs.usable.map(\.quote)
            && lhs.unusable.map(\.coupon.code) == rhs.unusable.map(\.coupon.code)
            && lhs.unusable.map(\.reason) == rhs.unusable.map(\.reason)
    }
}

public enum Wallet {
    /// Reason codes for coupons that cannot be used whatever the order.
    static func stateReason(_ state: CouponState) -> String? {
        switch state {
        case .issued: nil
        case .locked: "locked"
        case .redeemed: "redeemed"
        case .expired: "expired"
        case .revoked: "revoked"
        }
    }

    /// Prices every coupon for `order` at `nowMs`. Usable ones are ranked by
    /// `Pricing.rank` (largest discount, then soonest to expire, then code); unusable ones
    /// by soonest `valid_until`, then code.
    public static func price(_ coupons: [WalletCoupon], order: Order, nowMs: Int64) -> PricedWallet {
        var quotes: [String: (WalletCoupon, PricingQuote)] = [:]
        var entries: [WalletEntry] = []
        var unusable: [(coupon: WalletCoupon, reason: String)] = []
        for coupon in coupons {
            if let reason = stateReason(coupon.effectiveState(nowMs: nowMs)) {
                unusable.append((coupon, reason))
                continue
            }
            switch CouponLifecycle.price(template: coupon.template, validFromMs: coupon.validFromMs, order: order, nowMs: nowMs) {
            case .success(let quote):
                quotes[coupon.code] = (coupon, quote)
                entries.append(WalletEntry(code: coupon.code, validUntilMs: coupon.validUntilMs, outcome: .usable(quote)))
            case .failure(let refusal):
                unusable.append((coupon, refusal.rawValue))
            }
        }
        let usable = Pricing.rank(entries).compactMap { quotes[$0.code] }.map { (coupon: $0.0, quote: $0.1) }
        unusable.sort {
            $0.coupon.validUntilMs != $1.coupon.validUntilMs
                ? $0.coupon.validUntilMs < $1.coupon.validUntilMs
                : $0.coupon.code.utf8.lexicographicallyPrecedes($1.coupon.code.utf8)
        }
        return PricedWallet(usable: usable, unusable: unusable)
    }

    /// The user's coupons in PostgreSQL, then `pending` grants it does not hold yet.
    public static func load(userId: String, pending: [Grant], on connection: PostgresConnection) throws -> [WalletCoupon] {
        var coupons = try WalletStore.coupons(userId: userId, on: connection)
        let known = Set(coupons.map(\.code))
        let unflushed = pending.filter { !known.contains($0.code) }
        guard !unflushed.isEmpty else { return coupons }
        let templates = try WalletStore.templates(campaignIds: Array(Set(unflushed.map(\.campaignId))).sorted(), on: connection)
        for grant in unflushed {
            guard let (templateId, template) = templates[grant.campaignId] else { continue }
            coupons.append(
                WalletCoupon(
                    code: grant.code, campaignId: grant.campaignId, templateId: templateId, userId: grant.userId,
                    requestId: grant.requestId, state: .issued, issuedAtMs: grant.issuedAtMs, validFromMs: grant.validFromMs,
                    validUntilMs: grant.validUntilMs, lockedUntilMs: nil, template: template, flushed: false))
        }
        return coupons
    }

    static func decodeTemplate(_ spec: String, of owner: String) throws -> CouponTemplate {
        do throws(ValidationError) {
            return try CouponTemplate(jsonBytes: Array(spec.utf8))
        } catch {
            throw RedemptionError(code: .badTemplate, detail: "template of \(owner): \(error)")
        }
    }
}
