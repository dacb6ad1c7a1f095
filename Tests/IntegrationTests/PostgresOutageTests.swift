import CouponCore
import Foundation
import ServiceTestSupport
import TestSupport
import Testing

/// Claims never touch PostgreSQL: while it is down, claims keep being granted (the keys are
/// cached), the flusher retries, and once PostgreSQL is back every acknowledged grant lands
/// exactly once.
@Suite(.serialized) struct PostgresOutageTests {
    @Test func claimsContinueAndEveryGrantLandsAfterAnOutage() throws {
        let postgres = try PostgresServer.startNew()
        defer { postgres.stop() }
        let node = try TestNode.start(conninfo: try postgres.createDatabase(prefix: "outage"))
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 1_000, perUserLimit: 1)
        let client = node.client()
        defer { client.close() }
        var granted: [String] = []
        func claim(_ user: Int) throws {
            let response = try node.claim(campaignId: campaign, userId: "o\(user)", requestId: "o\(user)", on: client)
            #expect(response.status == 201, "claim \(user) answered \(response.status) \(response.bodyString)")
            if let code = TestNode.code(of: response), response.status == 201 { granted.append(code) }
        }
        for user in 0..<50 { try claim(user) }
        #expect(try node.waitForFlush(campaignId: campaign, expected: 50))

        postgres.stop()
        for user in 50..<250 { try claim(user) }
        // Readiness says PostgreSQL is gone; the flusher is failing and retrying meanwhile.
        let ready = try node.request("GET", "/readyz", as: nil)
        #expect(ready.status == 503)
        #expect(ready.headers["retry-after"] == "1")
        Thread.sleep(forTimeInterval: 0.5)
        #expect((node.node.flusherMetrics?.errors.load(ordering: .relaxed) ?? 0) > 0)

        try postgres.start()
        for user in 250..<300 { try claim(user) }
        #expect(granted.count == 300)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 300, seconds: 30))
        let stored = try node.storedCoupons(campaign)
        #expect(Set(stored.map(\.code)) == Set(granted))
        #expect(stored.count == 300)
        #expect(try node.issuedEventCount(campaign) == 300)
        #expect(TestEnvironment.waitUntil(seconds: 10) { (try? node.pendingCount(campaign)) == 0 })
    }
}
