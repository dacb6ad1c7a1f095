import HTTPServer

extension Routes {
    /// The campaign console (issue 14): static files at `/console/`, and the routes only it needs.
    static func installConsole(on router: Router, api: API) {
        let console = ConsoleHandler(assets: ConsoleAssets.shipped())
        router.add(.GET, "/console", handler: console.redirect)
        router.add(.GET, "/console/", handler: console.index)
        router.add(.GET, "/console/{file}", handler: console.file)

        let handlers = ConsoleAPIHandlers(api: api)
        router.add(.GET, "/v1/whoami", handler: api.guarded(Set(Role.allCases), handlers.whoami))
        router.add(.GET, "/v1/campaigns", handler: api.guarded([.admin, .finance], handlers.list))
        router.add(.GET, "/v1/campaigns/{id}/series", handler: api.guarded([.admin, .finance], handlers.series))
    }
}
