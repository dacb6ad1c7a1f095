// CouponCore
