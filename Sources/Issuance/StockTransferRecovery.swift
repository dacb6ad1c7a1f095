import RedisClient

/// Completes stock transfers left half-done (issue 10 §1): a node died, or lost a reply, between
/// a transfer's debit and its completion. Every node's flusher thread runs `sweep` every
/// `Flusher.Options.transferRecoverySeconds`; for every sharded campaign (`CampaignShards.registry`)
/// and shard it lists the donor records debited more than `graceMs` ago (by Redis `TIME`) and
/// runs the rest of the protocol (`StockTransfer`): credit on the receiver (applied once by id,
/// so a credit the dead node did send is not applied twice), then completion on the donor.
/// Several nodes sweeping at once is harmless for the same reason.
///
/// Bound: a half-done transfer is completed at most `graceMs + sweep period + one sweep's run`
/// after its debit, as long as one node runs (defaults 2,000 ms + 1 s).
public enum StockTransferRecovery {
    public static let defaultGraceMs = 2_000

    /// Returns how many transfers it completed.
    @discardableResult
    public static func sweep(on redis: BlockingRedisConnection, graceMs: Int = defaultGraceMs) throws -> Int {
        let members = try redis.command(["SMEMBERS", .string(CampaignShards.registry)])
        var completed = 0
        for campaignId in (members.array ?? []).compactMap({ $0.string.flatMap(Int64.init) }).sorted() {
            completed += try sweep(campaignId: campaignId, on: redis, graceMs: graceMs)
        }
        return completed
    }

    public static func sweep(campaignId: Int64, on redis: BlockingRedisConnection, graceMs: Int) throws -> Int {
        let count = try CampaignShards.count(campaignId: campaignId, on: redis)
        guard count > 1 else { return 0 }
        let shards = CampaignShards.keys(campaignId: campaignId, count: count)
        var completed = 0
        for (donor, keys) in shards.enumerated() {
            let flat = try redis.evalScript(
                StockTransfer.staleScript, keys: [.string(keys.transfersOut)], args: [.int(Int64(graceMs))]
            ).array ?? []
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let id = flat[index].string, let record = flat[index + 1].string.flatMap(StockTransfer.parseRecord),
                    shards.indices.contains(record.receiver), record.receiver != donor
                else { continue }
                var transfer = StockTransfer.recovered(id: id, donor: donor, receiver: record.receiver, amount: record.amount)
                while let command = transfer.command(transfer.next, shards: shards) {
                    transfer.succeeded(try redis.evalScript(command.script, keys: command.keys, args: command.args).int ?? 0)
                }
                if transfer.moved != nil { completed += 1 }
            }
        }
        return completed
    }
}
