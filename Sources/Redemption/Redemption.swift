/// Checkout: wallet pricing, redeem, lock/confirm/release, restore, expiry (issue 3).
public enum Redemption {}
