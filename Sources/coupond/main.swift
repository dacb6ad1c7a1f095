print("coupond")
