import HTTPServer

extension Routes {
    static let checkoutBodyLimit = 4 * 1024

    /// Checkout routes (issue 3): wallet for an order, redeem, lock/confirm/release, restore.
    /// The wallet itself (`GET /v1/users/{user_id}/coupons`) is installed with the others.
    static func installCheckout(on router: Router, api: API) {
        let checkout = CheckoutHandlers(api: api)
        let routes: [(String, PrincipalHandler)] = [
            ("redeem", checkout.redeem), ("lock", checkout.lock), ("confirm", checkout.confirm),
            ("release", checkout.release), ("restore", checkout.restore),
        ]
        for (action, handler) in routes {
            router.add(.POST, "/v1/coupons/{code}/\(action)", bodyLimit: checkoutBodyLimit, handler: api.guarded([.checkout, .store], handler))
        }
        router.add(
            .POST, "/v1/stores/{store_id}/write-offs", bodyLimit: checkoutBodyLimit,
            handler: api.guarded([.store], StoreHandlers(api: api).writeOff))
        router.add(.POST, "/v1/coupons/{code}/revoke", bodyLimit: checkoutBodyLimit, handler: api.guarded([.admin], checkout.revoke))
        router.add(.GET, "/v1/coupons/{code}/qr.svg", handler: api.guarded([.checkout, .admin], CouponQRHandler(api: api).handle))
    }
}
