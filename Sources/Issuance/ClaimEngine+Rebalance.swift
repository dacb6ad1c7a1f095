import Glibc
import RedisClient

/// What the engine does when a sharded campaign's claim is refused `sold_out` by its home
/// shard (issue 10 §1, ARCHITECTURE §13): one rebalance per shard and loop at a time, the
/// refused claims of that shard waiting for it. It reads every shard's remaining stock and
/// open transfers, then `ShardRebalance.plan` decides:
/// - `.transfer`: run a `StockTransfer` of half the richest donor's stock, capped at
///   `ShardRebalance.unitsPerWaitingClaim` (64) per waiting claim (debit donor → credit home shard → complete), then
///   retry the waiting claims on the home shard;
/// - `.wait`: stock is only in transit: retry after `rebalanceWaitMs`;
/// - `.soldOut`: no shard has stock and nothing is in transit: answer `sold_out` and mark the
///   campaign sold out on this node.
/// A claim is retried at most `rebalanceAttempts` times; after that it is answered `sold_out`
/// (counted in `ShardCounters.refusedWithStockElsewhere`). A retried
/// claim's `out:sold_out` count is taken back, so the outcome counters count answers.
extension ClaimEngine {
    func rebalance(_ pending: Pending) {
        let key = BatchKey(campaignId: pending.request.campaignId, shard: pending.shard)
        guard pending.attempt < options.rebalanceAttempts else {
            shardCounters.refusedWithStockElsewhere.add(1, ordering: .relaxed)
            return complete(pending, .success(.refused(.soldOut)))
        }
        if rebalancing[key] != nil { return rebalancing[key]!.append(pending) }
        rebalancing[key] = [pending]
        let shards = layouts(key.campaignId)
        readShardStatus(shards) { [self] status in
            guard let status else { return answerSoldOut(key, mark: false) }
            let waiting = rebalancing[key]?.count ?? 1
            switch ShardRebalance.plan(receiver: key.shard, remaining: status.remaining, openTransfers: status.open, waiting: waiting) {
            case .soldOut:
                answerSoldOut(key, mark: true)
            case .wait:
                _ = loop.schedule(afterMilliseconds: max(0, options.rebalanceWaitMs)) { [self] in retry(key) }
            case .transfer(let donor, let amount):
                let transfer = StockTransfer(id: codeGenerator.code().value, donor: donor, receiver: key.shard, wanted: amount)
                run(transfer, shards: shards) { [self] done in
                    if let moved = done.moved, moved > 0 { countTransfer(units: moved) }
                    retry(key)
                }
            }
        }
    }

    private func retry(_ key: BatchKey) {
        let waiting = rebalancing.removeValue(forKey: key) ?? []
        guard !waiting.isEmpty else { return }
        let meta = layout(key.campaignId, shard: key.shard).meta
        redis.send(["HINCRBY", .string(meta), .string(CampaignMeta.outcomeCounter("sold_out")), .int(-Int64(waiting.count))]) { _ in }
        for var item in waiting {
            item.attempt += 1
            enqueue(item)
        }
    }

    private func answerSoldOut(_ key: BatchKey, mark: Bool) {
        let waiting = rebalancing.removeValue(forKey: key) ?? []
        if mark && options.soldOutMarkMs > 0 {
            soldOut.mark(key.campaignId, forNanoseconds: UInt64(options.soldOutMarkMs) * 1_000_000)
        }
        for item in waiting { complete(item, .success(.refused(.soldOut))) }
    }

    /// Every shard's `GET stock` and `HLEN xout`, pipelined; nil when any reply failed.
    private func readShardStatus(_ shards: [CampaignKeys], _ done: @escaping ((remaining: [Int64], open: [Int64])?) -> Void) {
        var remaining = [Int64](repeating: 0, count: shards.count)
        var open = [Int64](repeating: 0, count: shards.count)
        var outstanding = shards.count * 2
        var failed = false
        func arrived(_ result: Result<RESPValue, RedisError>, _ store: (Int64) -> Void) {
            switch result {
            case .success(let value): store(value.int ?? value.string.flatMap(Int64.init) ?? 0)
            case .failure: failed = true
            }
            outstanding -= 1
            if outstanding == 0 { done(failed ? nil : (remaining, open)) }
        }
        for (index, keys) in shards.enumerated() {
            redis.send(["GET", .string(keys.stock)]) { result in arrived(result) { remaining[index] = $0 } }
            redis.send(["HLEN", .string(keys.transfersOut)]) { result in arrived(result) { open[index] = $0 } }
        }
    }

    /// Carries out `transfer`'s steps; `done` gets its final state (completed or interrupted).
    func run(_ transfer: StockTransfer, shards: [CampaignKeys], _ done: @escaping (StockTransfer) -> Void) {
        guard let command = transfer.command(transfer.next, shards: shards) else { return done(transfer) }
        redis.evalScript(command.script, keys: command.keys, args: command.args) { [self] result in
            var transfer = transfer
            switch result {
            case .success(let reply): transfer.succeeded(reply.int ?? 0)
            case .failure: transfer.failed()
            }
            if case .debited = transfer.state, options.faultExitAfterDebitPercent > 0,
                Int.random(in: 0..<100) < options.faultExitAfterDebitPercent
            {
                _exit(137)  // fault injection (tests only): die between the debit and the credit
            }
            run(transfer, shards: shards, done)
        }
    }
}
