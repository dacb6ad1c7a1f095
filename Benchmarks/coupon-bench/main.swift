print("coupon-bench")
