print("coupon-load")
