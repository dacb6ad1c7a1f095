import CouponService
import Foundation
import HTTPServer
import RiskControl
import ServiceTestSupport
import Store
import TestSupport
import Testing

/// `coupond keys list|revoke`, and a revoked key refused by every node that used it within
/// the stated bound (`key-cache-seconds`, 3 s by default).
@Suite(.serialized) struct KeyRevocationTests {
    @Test func aRevokedKeyIsRefusedOnEveryNodeWithinTheBound() throws {
        let nodeA = try TestNode.start()
        defer { nodeA.stop() }
        let nodeB = try TestNode.start(redis: nodeA.redis, conninfo: nodeA.conninfo)
        defer { nodeB.stop() }
        let bound = nodeA.configuration.keyCacheSeconds
        #expect(bound == 3)
        let template = try nodeA.createTemplate()
        let key = try Commands.createKey(role: .admin, label: "to-revoke", conninfo: nodeA.conninfo)
        let listing = try Commands.listKeys(conninfo: nodeA.conninfo)
        #expect(!listing.contains(key))
        let line = try #require(listing.split(separator: "\n").first { $0.contains("\tto-revoke\t") })
        let fields = line.split(separator: "\t")
        #expect(fields.count == 5)
        #expect(fields[1] == "admin")
        #expect(fields[4] == "-")
        let id = try #require(Int64(fields[0]))

        func status(_ node: TestNode, on client: BlockingHTTPClient) throws -> Int {
            try client.send(method: "GET", path: "/v1/templates/\(template)", headers: [("Authorization", "Bearer \(key)")]).status
        }
        // Both nodes have used the key (and keep using it: the background re-validation path).
        let clients = [nodeA.client(), nodeB.client()]
        defer { clients.forEach { $0.close() } }
        for (node, client) in zip([nodeA, nodeB], clients) { #expect(try status(node, on: client) == 200) }
        Thread.sleep(forTimeInterval: 1.5)
        for (node, client) in zip([nodeA, nodeB], clients) { #expect(try status(node, on: client) == 200) }

        #expect(try Commands.revokeKey(id: id, conninfo: nodeA.conninfo) == .revoked)
        let revokedAt = Date()
        #expect(try Commands.revokeKey(id: id, conninfo: nodeA.conninfo) == .alreadyRevoked)
        #expect(try Commands.revokeKey(id: 999_999, conninfo: nodeA.conninfo) == .notFound)
        var refusedAfter: [Double?] = [nil, nil]
        while Date().timeIntervalSince(revokedAt) < bound + 2, refusedAfter.contains(where: { $0 == nil }) {
            for (index, node) in [nodeA, nodeB].enumerated() where refusedAfter[index] == nil {
                let answer = try status(node, on: clients[index])
                if answer == 401 { refusedAfter[index] = Date().timeIntervalSince(revokedAt) } else { #expect(answer == 200) }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        for (name, seconds) in zip(["A", "B"], refusedAfter) {
            print("FIGURE: revoked key refused on node \(name) after \(seconds.map { String(format: "%.3f", $0) } ?? "never") s (bound \(bound) s)")
            #expect((seconds ?? .infinity) <= bound + 0.5, "node \(name) still accepted a revoked key")
        }
        // And stays refused.
        for (node, client) in zip([nodeA, nodeB], clients) { #expect(try status(node, on: client) == 401) }
        let after = try Commands.listKeys(conninfo: nodeA.conninfo)
        let revokedLine = try #require(after.split(separator: "\n").first { $0.hasPrefix("\(id)\t") })
        #expect(revokedLine.split(separator: "\t").last?.hasSuffix("Z") == true)
        // Other keys are untouched.
        #expect(try nodeB.request("GET", "/v1/templates/\(template)", as: .admin).status == 200)
    }

    @Test func keysCommandRejectsBadArguments() throws {
        var configuration = Configuration()
        configuration.postgres = "host=/nonexistent dbname=none"
        #expect(throws: Configuration.Error.self) { try Commands.keys(["revoke"], configuration) }
        #expect(throws: Configuration.Error.self) { try Commands.keys(["revoke", "abc"], configuration) }
        #expect(throws: Configuration.Error.self) { try Commands.keys(["list", "extra"], configuration) }
    }

    /// Unknown keys: each costs at most one PostgreSQL lookup (negative cache), and an address
    /// presenting too many gets 429 with Retry-After; a valid key from it still works.
    @Test func failedAuthenticationsAreLimitedPerClientAddress() throws {
        let node = try TestNode.start { $0.authFailureRate = RateLimit(perSecond: 1, burst: 20) }
        defer { node.stop() }
        let template = try node.createTemplate()  // the admin key is known before the flood
        let client = node.client()
        defer { client.close() }
        var statuses: [Int] = []
        var retryAfter: String?
        for index in 0..<60 {
            let response = try client.send(
                method: "GET", path: "/v1/templates/1", headers: [("Authorization", "Bearer cpk_unknown\(index)")])
            statuses.append(response.status)
            if response.status == 429, retryAfter == nil { retryAfter = response.headers["retry-after"] }
        }
        let refused = statuses.filter { $0 == 401 }.count
        #expect(refused >= 20 && refused <= 22, "\(refused) answered 401")
        #expect(statuses.prefix(20).allSatisfy { $0 == 401 })
        #expect(statuses.filter { $0 == 429 }.count == 60 - refused)
        #expect(retryAfter == "1")
        #expect(try node.request("GET", "/metrics", as: nil).bodyString.contains("coupond_rate_limited_total{limiter=\"auth_failure\"} \(60 - refused)"))
        // A known key is never held back by its address's failures (an unseen one is: it would
        // cost a lookup like the flood does).
        #expect(try node.request("GET", "/v1/templates/\(template)", as: .admin).status == 200)
    }

    /// Behind a trusted proxy the client is the rightmost untrusted X-Forwarded-For hop; from
    /// anyone else the header is ignored.
    @Test func forwardedForCountsOnlyFromTrustedProxies() throws {
        func run(trusted: String?) throws -> [String: [Int]] {
            let node = try TestNode.start {
                $0.authFailureRate = RateLimit(perSecond: 0.001, burst: 3)
                if let trusted { $0.trustedProxies = ClientAddressResolver(parsing: trusted)! }
            }
            defer { node.stop() }
            var statuses: [String: [Int]] = [:]
            for client in ["198.51.100.1", "198.51.100.2"] {
                for attempt in 0..<4 {
                    let response = try node.client().send(
                        method: "GET", path: "/v1/templates/1",
                        headers: [("Authorization", "Bearer cpk_bad\(attempt)"), ("X-Forwarded-For", "6.6.6.\(attempt), \(client)")])
                    statuses[client, default: []].append(response.status)
                }
            }
            return statuses
        }
        // Trusted loopback proxy: two clients, each with its own failure budget.
        #expect(try run(trusted: "127.0.0.0/8") == ["198.51.100.1": [401, 401, 401, 429], "198.51.100.2": [401, 401, 401, 429]])
        // Untrusted peer: one address (the peer) for both.
        #expect(try run(trusted: nil) == ["198.51.100.1": [401, 401, 401, 429], "198.51.100.2": [429, 429, 429, 429]])
    }
}
