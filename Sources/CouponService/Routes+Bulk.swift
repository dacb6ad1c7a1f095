import HTTPServer

extension Routes {
    /// Bulk grant jobs (issue 12): upload a list of user ids, follow and cancel the job, read its refusals.
    static func installBulk(on router: Router, api: API) {
        let bulk = BulkJobHandlers(api: api)
        router.add(
            .POST, "/v1/campaigns/{id}/bulk-grants", bodyLimit: api.configuration.bulkBodyLimitBytes,
            handler: api.guarded([.admin], bulk.create))
        router.add(.GET, "/v1/jobs/{id}", handler: api.guarded([.admin], bulk.status))
        router.add(.POST, "/v1/jobs/{id}/cancel", handler: api.guarded([.admin], bulk.cancel))
        router.add(.GET, "/v1/jobs/{id}/refusals", handler: api.guarded([.admin], bulk.refusals))
    }
}
