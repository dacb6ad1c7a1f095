import HTTPServer

extension Routes {
    /// The campaign console (issue 14): static files at `/console/`, and the routes only it needs.
    static func installConsole(on router: Router, api: API) {
        let assets = ConsoleAssets.shipped()
        if assets.files["index.html"] == nil {
            api.logger.warning("console_assets_missing", ["hint": "set COUPOND_CONSOLE_DIR or copy coupond_CouponService.resources next to the binary"])
        }
        let console = ConsoleHandler(assets: assets)
        router.add(.GET, "/console", handler: console.redirect)
        router.add(.GET, "/console/", handler: console.index)
        router.add(.GET, "/console/{file}", handler: console.file)

        let handlers = ConsoleAPIHandlers(api: api)
        router.add(.GET, "/v1/whoami", handler: api.guarded(Set(Role.allCases), handlers.whoami))
        router.add(.GET, "/v1/campaigns", handler: api.guarded([.admin, .finance], handlers.list))
        router.add(.GET, "/v1/campaigns/{id}/series", handler: api.guarded([.admin, .finance], handlers.series))
    }
}
