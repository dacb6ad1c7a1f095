// CouponService
