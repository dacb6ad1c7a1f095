import HTTPServer

/// Every route the node serves. The OpenAPI file must list each one (a test checks).
enum Routes {
    static let claimBodyLimit = 4 * 1024

    static func install(on router: Router, api: API) {
        let operations = OperationsHandlers(api: api)
        router.add(.GET, "/healthz", handler: operations.health)
        router.add(.GET, "/readyz", handler: operations.ready)
        router.add(.GET, "/metrics", handler: operations.metrics)

        let campaigns = CampaignHandlers(api: api)
        router.add(.POST, "/v1/templates", handler: api.guarded([.admin], campaigns.createTemplate))
        router.add(.GET, "/v1/templates/{id}", handler: api.guarded([.admin, .finance], campaigns.getTemplate))
        router.add(.POST, "/v1/campaigns", handler: api.guarded([.admin], campaigns.createCampaign))
        router.add(.GET, "/v1/campaigns/{id}", handler: api.guarded([.admin, .finance], campaigns.getCampaign))
        router.add(.POST, "/v1/campaigns/{id}/pause", handler: api.guarded([.admin], campaigns.setState(.paused)))
        router.add(.POST, "/v1/campaigns/{id}/resume", handler: api.guarded([.admin], campaigns.setState(.active)))
        router.add(.POST, "/v1/campaigns/{id}/stock", handler: api.guarded([.admin], campaigns.addStock))

        let claims = ClaimHandler(api: api)
        router.add(.POST, "/v1/campaigns/{id}/claims", bodyLimit: claimBodyLimit, handler: api.guarded([.issue], claims: true, claims.handle))

        let wallet = WalletHandler(api: api)
        router.add(.GET, "/v1/users/{user_id}/coupons", handler: api.guarded([.checkout], wallet.handle))

        installCheckout(on: router, api: api)
        installFinance(on: router, api: api)
        installConsole(on: router, api: api)
        installPoints(on: router, api: api)
        installBulk(on: router, api: api)
        installWebhooks(on: router, api: api)
    }
}
