extension CouponKind {
    /// What one coupon is worth at most, for liability reports and stats: the amount off or
    /// voucher value, a percentage coupon's cap (0 when uncapped), a gift's stated value; 0 for
    /// free shipping (its worth depends on each order's fee).
    public var faceValue: Int64 {
        switch self {
        case .amountOff(_, let amount), .cash(let amount): amount
        case .percentOff(_, _, let cap): cap ?? 0
        case .freeShipping: 0
        case .gift(_, _, let giftValue): giftValue
        }
    }
}
