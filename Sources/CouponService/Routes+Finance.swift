import HTTPServer

extension Routes {
    /// Finance routes (issue 4): campaign statistics, reconciliation report.
    static func installFinance(on router: Router, api: API) {
        let finance = FinanceHandlers(api: api)
        router.add(.GET, "/v1/campaigns/{id}/stats", handler: api.guarded([.finance, .admin], finance.stats))
        router.add(.GET, "/v1/reports/reconciliation", handler: api.guarded([.finance], finance.reconciliation))
        router.add(.GET, "/v1/reports/stores", handler: api.guarded([.finance], finance.stores))
    }
}
