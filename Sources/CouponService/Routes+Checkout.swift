import HTTPServer

extension Routes {
    /// Checkout routes (issue 3): wallet for an order, redeem, lock/confirm/release, restore.
    static func installCheckout(on router: Router, api: API) {}
}
