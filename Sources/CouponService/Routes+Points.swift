import HTTPServer

extension Routes {
    static let pointsBodyLimit = 4 * 1024

    /// Points accounts and exchange campaigns (issue 11).
    static func installPoints(on router: Router, api: API) {
        let points = PointsHandlers(api: api)
        router.add(.POST, "/v1/users/{user_id}/points/earn", bodyLimit: pointsBodyLimit, handler: api.guarded([.points], points.earn))
        router.add(.POST, "/v1/users/{user_id}/points/adjust", bodyLimit: pointsBodyLimit, handler: api.guarded([.admin], points.adjust))
        router.add(.GET, "/v1/users/{user_id}/points", handler: api.guarded([.points, .checkout, .admin, .finance], points.balance))
        router.add(.GET, "/v1/users/{user_id}/points/history", handler: api.guarded([.points, .checkout, .admin, .finance], points.history))
        router.add(.GET, "/v1/points/report", handler: api.guarded([.finance, .admin], points.report))
        router.add(.POST, "/v1/points/rebuild", handler: api.guarded([.admin], points.rebuild))
        router.add(.PUT, "/v1/campaigns/{id}/points", bodyLimit: pointsBodyLimit, handler: api.guarded([.admin], points.setExchange))

        let draws = DrawHandlers(api: api)
        router.add(.POST, "/v1/draws", bodyLimit: 16 * 1024, handler: api.guarded([.admin], draws.create))
        router.add(.POST, "/v1/draws/{id}/attempts", bodyLimit: claimBodyLimit, handler: api.guarded([.issue], draws.attempt))
        router.add(.GET, "/v1/draws/{id}", handler: api.guarded([.issue, .admin, .finance], draws.get))

        let exchanges = ExchangeHandler(api: api)
        router.add(.POST, "/v1/campaigns/{id}/exchanges", bodyLimit: claimBodyLimit, handler: api.guarded([.issue], claims: true, exchanges.handle))
    }
}
