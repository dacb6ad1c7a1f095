import HTTPServer

extension Routes {
    /// Bulk grant jobs (issue 12): upload a list of user ids, follow and cancel the job, read its
    /// refusals; segments and campaign audiences.
    static func installBulk(on router: Router, api: API) {
        // Bulk-grant and segment uploads stream; together at most bulk-max-uploads at once.
        let uploads = UploadSlots(limit: api.configuration.bulkMaxUploads)
        let bulk = BulkJobHandlers(api: api, uploads: uploads)
        router.add(
            .POST, "/v1/campaigns/{id}/bulk-grants", bodyLimit: api.configuration.bulkBodyLimitBytes, streaming: true,
            handler: api.guarded([.admin], bulk.create))
        router.add(.GET, "/v1/jobs/{id}", handler: api.guarded([.admin], bulk.status))
        router.add(.POST, "/v1/jobs/{id}/cancel", handler: api.guarded([.admin], bulk.cancel))
        router.add(.GET, "/v1/jobs/{id}/refusals", handler: api.guarded([.admin], bulk.refusals))

        let segments = SegmentHandlers(api: api, uploads: uploads)
        router.add(
            .POST, "/v1/segments", bodyLimit: api.configuration.bulkBodyLimitBytes, streaming: true,
            handler: api.guarded([.admin], segments.create))
        router.add(.GET, "/v1/segments/{id}", handler: api.guarded([.admin], segments.get))
        router.add(.POST, "/v1/segments/{id}/refresh", handler: api.guarded([.admin], segments.refresh))
        router.add(.POST, "/v1/campaigns/{id}/audience", handler: api.guarded([.admin], segments.setAudience))
    }
}

extension Routes {
    /// Webhook subscriptions (issue 12); delivery runs on the node's `WebhookDeliverer`.
    static func installWebhooks(on router: Router, api: API) {
        let webhooks = WebhookHandlers(api: api)
        router.add(.POST, "/v1/webhooks", handler: api.guarded([.admin], webhooks.create))
        router.add(.GET, "/v1/webhooks", handler: api.guarded([.admin], webhooks.list))
        router.add(.DELETE, "/v1/webhooks/{id}", handler: api.guarded([.admin], webhooks.delete))
        router.add(.GET, "/v1/webhooks/{id}/dead", handler: api.guarded([.admin], webhooks.dead))
        router.add(.POST, "/v1/webhooks/{id}/dead/retry", handler: api.guarded([.admin], webhooks.retryDead))
    }
}
