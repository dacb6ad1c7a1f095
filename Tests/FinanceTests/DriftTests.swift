import CouponCore
import CouponService
import Foundation
import PostgresClient
import RedisClient
import ServiceTestSupport
import Testing

@testable import Finance

/// Drift injected behind the service's back: the report fails the right check, names the
/// exact codes and stream ids, and `coupond reconcile` exits non-zero.
@Suite(.serialized) struct DriftTests {
    static func checks(_ node: TestNode, campaign: Int64) throws -> JSONValue {
        let today = FinanceFixture.date(offsetDays: 0)
        let report = try FinanceFixture.getJSON(
            node, "/v1/reports/reconciliation?from=\(today)&to=\(today)&campaign_id=\(campaign)")
        return report["checks"]!
    }

    static func reconcile(_ node: TestNode, format: String = "json") throws -> (status: Int32, output: String) {
        let today = FinanceFixture.date(offsetDays: 0)
        var output = ""
        let status = try Commands.reconcile(
            ["--from", today, "--to", today, "--format", format], node.configuration, output: { output += $0 }, errors: { _ in })
        return (status, output)
    }

    static func offenders(_ check: JSONValue) -> [[String]] {
        (check["offenders"]?.arrayValue ?? []).map {
            [$0["code"]!.stringValue!, $0["stream_id"]!.stringValue!, $0["issue"]!.stringValue!]
        }
    }

    @Test func cleanCampaignPassesAndReconcileExitsZero() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
        _ = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<3)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 3))
        let checks = try Self.checks(node, campaign: campaign)
        #expect(checks["passed"] == .bool(true))
        let item = checks["campaigns"]![0]!
        #expect(item["stock_conservation"]!["figures"]! == JSONValue.object(
            JSONObject([("stock_total", .int(5)), ("remaining", .int(2)), ("issued", .int(3)), ("difference", .int(0)), ("stock_total_postgres", .int(5))])))
        #expect(item["flush_conservation"]!["figures"]!.int("rows_postgres") == 3)
        for format in ["json", "csv", "table"] {
            #expect(try Self.reconcile(node, format: format).status == 0)
        }
        #expect(try Self.reconcile(node, format: "table").output.contains("PASS"))
    }

    /// A coupon row (and its events) deleted from PostgreSQL after its entry was flushed,
    /// acked and trimmed: `flush_conservation` fails and names the code and its stream id.
    @Test func deletedCouponRowIsNamed() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
        let codes = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<4)
        let streamIds = try FinanceFixture.streamIds(node, campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 4))
        let victim = codes[2]
        let postgres = try node.postgres()
        try postgres.execute("DELETE FROM coupon_events WHERE code = $1", [victim])
        try postgres.execute("DELETE FROM coupons WHERE code = $1", [victim])

        let checks = try Self.checks(node, campaign: campaign)
        #expect(checks["passed"] == .bool(false))
        let item = checks["campaigns"]![0]!
        #expect(item["stock_conservation"]!["passed"] == .bool(true))
        let flush = item["flush_conservation"]!
        #expect(flush["passed"] == .bool(false))
        #expect(flush["figures"]!.int("issued") == 4)
        #expect(flush["figures"]!.int("rows_postgres") == 3)
        #expect(flush["figures"]!.int("not_yet_flushed") == 0)
        #expect(flush["figures"]!.int("difference") == 1)
        #expect(Self.offenders(flush) == [[victim, streamIds[victim]!, "missing_in_postgres"]])
        #expect(item["period_flushed"]!["passed"] == .bool(true))

        let (status, output) = try Self.reconcile(node)
        #expect(status == 1)
        #expect(output.contains(victim))
        #expect(try Self.reconcile(node, format: "table").output.contains("missing_in_postgres code=\(victim)"))
    }

    /// Grants left in the stream (node without a flusher): the counts still add up
    /// (`issued = rows + not yet flushed`), but `period_flushed` fails and names each
    /// unflushed code with its stream id, because the period's figures are not final.
    @Test func unflushedGrantsAreNamed() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
        let codes = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<2)
        let streamIds = try FinanceFixture.streamIds(node, campaign: campaign)
        let item = try Self.checks(node, campaign: campaign)["campaigns"]![0]!
        let flush = item["flush_conservation"]!
        #expect(flush["passed"] == .bool(true))
        #expect(flush["figures"]!.int("rows_postgres") == 0)
        #expect(flush["figures"]!.int("not_yet_flushed") == 2)
        let period = item["period_flushed"]!
        #expect(period["passed"] == .bool(false))
        #expect(Self.offenders(period) == codes.map { [$0, streamIds[$0]!, "unflushed"] })

        let stats = try FinanceFixture.getJSON(node, "/v1/campaigns/\(campaign)/stats")
        #expect(stats.int("issued") == 2)
        #expect(stats.int("flushed") == 0)
        #expect(stats.int("not_yet_flushed") == 2)
        #expect(stats.int("stream_backlog") == 2)
        #expect(try Self.reconcile(node).status == 1)
    }

    /// A stock counter changed in Redis: `stock_conservation` fails with the difference.
    @Test func changedStockCounterFails() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 5, perUserLimit: 1)
        _ = try FinanceFixture.claimAll(node, campaign: campaign, users: 0..<2)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 2))
        _ = try node.redisClient().command(["INCRBY", .string("cp:{c:\(campaign)}:stock"), "7"])
        let item = try Self.checks(node, campaign: campaign)["campaigns"]![0]!
        let stock = item["stock_conservation"]!
        #expect(stock["passed"] == .bool(false))
        #expect(stock["figures"]!.int("remaining") == 10)
        #expect(stock["figures"]!.int("difference") == -7)
        #expect(item["flush_conservation"]!["passed"] == .bool(true))
        #expect(try Self.reconcile(node).status == 1)
        #expect(try Self.reconcile(node, format: "csv").status == 1)
    }
}
