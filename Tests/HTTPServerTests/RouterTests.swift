import Testing

@testable import HTTPServer

@Suite struct RouterTests {
    func makeRouter() -> Router {
        let router = Router()
        let noop: RouteHandler = { _, _, responder in responder.respond(HTTPResponse(status: 200)) }
        router.add(.POST, "/v1/campaigns/{id}/claims", handler: noop)
        router.add(.GET, "/v1/campaigns/{id}", handler: noop)
        router.add(.PATCH, "/v1/campaigns/{id}", bodyLimit: 10, handler: noop)
        router.add(.GET, "/v1/campaigns/stats", handler: noop)
        router.add(.GET, "/v1/campaigns/{id}/coupons/{code}", handler: noop)
        router.add(.GET, "/v1/{kind}/x/y", handler: noop)
        router.add(.GET, "/v1/campaigns/x/z", handler: noop)
        router.add(.GET, "/healthz", handler: noop)
        router.add(.GET, "/", handler: noop)
        return router
    }

    func found(_ router: Router, _ method: HTTPMethod, _ path: String) -> (String, [String: String])? {
        guard case .found(let route, let parameters) = router.match(method, path: path) else { return nil }
        return (route.pattern, parameters.dictionary)
    }

    @Test func parametersAreCapturedAndDecoded() {
        let router = makeRouter()
        #expect(found(router, .POST, "/v1/campaigns/42/claims")! == ("/v1/campaigns/{id}/claims", ["id": "42"]))
        #expect(found(router, .GET, "/v1/campaigns/a%20b%2Fc")! == ("/v1/campaigns/{id}", ["id": "a b/c"]))
        #expect(
            found(router, .GET, "/v1/campaigns/7/coupons/ABC")! == ("/v1/campaigns/{id}/coupons/{code}", ["id": "7", "code": "ABC"]))
        #expect(found(router, .GET, "/")! == ("/", [:]))
        #expect(found(router, .GET, "/healthz")! == ("/healthz", [:]))
    }

    @Test func staticBeatsParameterWithBacktracking() {
        let router = makeRouter()
        #expect(found(router, .GET, "/v1/campaigns/stats")! == ("/v1/campaigns/stats", [:]))
        // "campaigns" static branch has no x/y, so the {kind} branch matches.
        #expect(found(router, .GET, "/v1/campaigns/x/y")! == ("/v1/{kind}/x/y", ["kind": "campaigns"]))
        #expect(found(router, .GET, "/v1/campaigns/x/z")! == ("/v1/campaigns/x/z", [:]))
    }

    @Test func staticSegmentsMatchWholeAndExactBytes() {
        let router = makeRouter()
        router.add(.GET, "/v1/café", handler: { _, _, responder in responder.respond(HTTPResponse(status: 200)) })
        #expect(found(router, .GET, "/v1/café")! == ("/v1/café", [:]))
        // Same length as "campaigns", one byte off; a prefix; a longer segment: the {kind} branch or nothing.
        #expect(found(router, .GET, "/v1/campaignz/x/y")! == ("/v1/{kind}/x/y", ["kind": "campaignz"]))
        guard case .notFound = router.match(.GET, path: "/v1/campaign/x/z") else { Issue.record("prefix"); return }
        guard case .notFound = router.match(.GET, path: "/v1/campaignss/stats") else { Issue.record("longer"); return }
        guard case .notFound = router.match(.GET, path: "/healthzz") else { Issue.record("longer root segment"); return }
        #expect(found(router, .GET, "")! == ("/", [:]))
        #expect(found(router, .POST, "/v1/campaigns/%E2%82%AC/claims")! == ("/v1/campaigns/{id}/claims", ["id": "€"]))
    }

    @Test func notFoundAndMethodNotAllowed() {
        let router = makeRouter()
        guard case .notFound = router.match(.GET, path: "/v1/nothing") else { Issue.record("expected 404"); return }
        guard case .notFound = router.match(.GET, path: "/v1/campaigns/") else { Issue.record("empty parameter"); return }
        guard case .notFound = router.match(.GET, path: "/healthz/") else { Issue.record("trailing slash"); return }
        guard case .methodNotAllowed(let allowed) = router.match(.DELETE, path: "/v1/campaigns/9") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == [.GET, .HEAD, .PATCH])
    }

    @Test func headFindsTheGetRouteAndIsAllowedWhereGetIs() {
        let router = makeRouter()
        #expect(found(router, .HEAD, "/healthz")! == ("/healthz", [:]))
        #expect(found(router, .HEAD, "/v1/campaigns/7")! == ("/v1/campaigns/{id}", ["id": "7"]))
        #expect(found(router, .HEAD, "/v1/campaigns/x/y")! == ("/v1/{kind}/x/y", ["kind": "campaigns"]))
        guard case .methodNotAllowed(let allowed) = router.match(.HEAD, path: "/v1/campaigns/7/claims") else {
            Issue.record("HEAD on a POST-only route must be 405")
            return
        }
        #expect(allowed == [.POST])
        #expect(router.routes.contains { $0.method == .HEAD } == false)  // implicit, not registered
    }

    @Test func nonStandardMethodsAreNotImplementedEverywhere() {
        let router = makeRouter()
        for (method, path) in [("PURGE", "/healthz"), ("get", "/healthz"), (String(repeating: "X", count: 200), "/nothing")] {
            guard case .methodNotImplemented = router.match(.other(method), path: path) else {
                Issue.record("\(method.prefix(10)) \(path) must be 501")
                continue
            }
        }
        #expect(HTTPMethod.other("PURGE").label == "other")
        #expect(HTTPMethod.PATCH.label == "PATCH")
        #expect(HTTPMethod.standard.count == 9)
    }

    @Test func routesListsEverythingInOrder() {
        let router = makeRouter()
        #expect(
            router.routes.map { "\($0.method) \($0.pattern)" } == [
                "POST /v1/campaigns/{id}/claims", "GET /v1/campaigns/{id}", "PATCH /v1/campaigns/{id}",
                "GET /v1/campaigns/stats", "GET /v1/campaigns/{id}/coupons/{code}", "GET /v1/{kind}/x/y",
                "GET /v1/campaigns/x/z", "GET /healthz", "GET /",
            ])
        guard case .found(let route, _) = router.match(.PATCH, path: "/v1/campaigns/1") else { Issue.record("no route"); return }
        #expect(route.bodyLimit == 10)
    }
}
