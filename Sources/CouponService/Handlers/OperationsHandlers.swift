import CouponCore
import HTTPServer
import RedisClient

/// `/healthz`, `/readyz`, `/metrics`: unauthenticated, for load balancers and scrapers.
struct OperationsHandlers {
    let api: API

    func health(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        responder.respond(.json(body: Array(#"{"status":"ok"}"#.utf8)))
    }

    /// Ready when both Redis and PostgreSQL answer and the node is not draining (SIGTERM).
    func ready(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        if api.draining.load(ordering: .relaxed) {
            var response = HTTPResponse.json(status: 503, body: Array(#"{"status":"draining"}"#.utf8))
            response.headers.add(name: "Retry-After", value: "1")
            return responder.respond(response)
        }
        api.workers.submit({ context -> HTTPResponse in
            let redisOK = (try? context.redis().command(["PING"]).string) == "PONG"
            let postgresOK = (try? context.postgres().ping()) == true
            let body = JSONWriter.object { object in
                object.field("status", redisOK && postgresOK ? "ready" : "not_ready")
                object.field("redis", redisOK ? "ok" : "unreachable")
                object.field("postgres", postgresOK ? "ok" : "unreachable")
            }
            var response = HTTPResponse.json(status: redisOK && postgresOK ? 200 : 503, body: body)
            if !(redisOK && postgresOK) { response.headers.add(name: "Retry-After", value: "1") }
            return response
        }) { result in
            responder.respond((try? result.get()) ?? APIError.internalError)
        }
    }

    func metrics(_ request: HTTPRequest, _ parameters: RouteParameters, _ responder: Responder) {
        responder.respond(
            .text(api.metrics.render(flusher: api.flusher?.metrics), contentType: "text/plain; version=0.0.4; charset=utf-8"))
    }
}
