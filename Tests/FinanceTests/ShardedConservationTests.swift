import Testing

@testable import Finance

/// `stock_conservation` of a sharded campaign (issue 10 §1): units debited by a stock transfer
/// and not yet credited are in transit, part of the equation, and shown as a figure.
@Suite struct ShardedConservationTests {
    func snapshot(total: Int64, remaining: Int64, issued: Int64, inTransit: Int64, shards: Int) -> RedisSnapshot {
        var snapshot = RedisSnapshot(
            stockTotal: total, issued: issued, remaining: remaining, lastStreamId: nil, backlog: [], backlogTruncated: false)
        snapshot.shards = shards
        snapshot.inTransit = inTransit
        return snapshot
    }

    @Test func inTransitUnitsBalanceTheEquation() {
        let check = ConservationChecks.stock(snapshot(total: 10, remaining: 3, issued: 4, inTransit: 3, shards: 3), stockTotalPostgres: 10)
        #expect(check.passed)
        #expect(check.figures.map(\.name) == ["stock_total", "remaining", "issued", "in_transit", "shards", "difference", "stock_total_postgres"])
        #expect(check.figure("in_transit") == 3 && check.figure("shards") == 3 && check.figure("difference") == 0)
    }

    @Test func aMissingOrCreatedUnitFailsIt() {
        #expect(!ConservationChecks.stock(snapshot(total: 10, remaining: 3, issued: 4, inTransit: 2, shards: 3), stockTotalPostgres: 10).passed)
        let created = ConservationChecks.stock(snapshot(total: 10, remaining: 5, issued: 4, inTransit: 3, shards: 3), stockTotalPostgres: 10)
        #expect(!created.passed && created.figure("difference") == -2)
    }

    @Test func anUnshardedCampaignKeepsItsFigures() {
        let check = ConservationChecks.stock(snapshot(total: 10, remaining: 6, issued: 4, inTransit: 0, shards: 1), stockTotalPostgres: 10)
        #expect(check.passed)
        #expect(check.figures.map(\.name) == ["stock_total", "remaining", "issued", "difference", "stock_total_postgres"])
    }
}
