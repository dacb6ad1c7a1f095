import Issuance
import RedisClient

/// With `--redis-wait-replicas R` (issue 10 §2) the flusher commits only grants the master's
/// replicas have: a demoted master's grants that never reached the promoted replica (answered
/// 503 to the client) must not reach PostgreSQL either.
///
/// After a batch is read, each stream's last entry read is re-claimed by this consumer
/// (`XCLAIM … 0 id JUSTID`, the fence: it changes nothing but is a write that propagates, so
/// the connection's replication offset is past every entry of the stream up to it, even when
/// the batch came from a history read, which does not propagate), and `WAIT R timeout` goes
/// right behind it on the same connection (on a cluster, that master's). The stream's entries
/// are committed only when the fence claimed the id (the master holds it pending for us, so it
/// has every earlier entry of the stream) and `WAIT` counted at least R replicas. Otherwise
/// they stay pending, unacked, and are read again later; if the master was demoted, its stream
/// was replaced by the promoted master's and the unreplicated entries are gone.
enum ReplicatedBatch {
    enum Verdict: Equatable {
        case confirmed
        /// `acknowledged` replicas had it (0 when the fence failed or ran elsewhere).
        case unconfirmed(acknowledged: Int)
    }

    static func fenceCommand(stream: String, lastId: String, consumer: String) -> [RedisArgument] {
        ["XCLAIM", .string(stream), .string(CampaignKeys.flusherGroup), .string(consumer), "0", .string(lastId), "JUSTID"]
    }

    /// The fence's reply as judged by `WAIT` (`BlockingRedisConnection.pipeline(_:confirmedBy:)`).
    static func verdict(_ fenceReply: Result<RESPValue, RedisError>, lastId: String) -> Verdict {
        switch fenceReply {
        case .success(let claimed):
            return (claimed.array ?? []).contains { $0.string == lastId } ? .confirmed : .unconfirmed(acknowledged: 0)
        case .failure(.unconfirmed(let shortfall)):
            return .unconfirmed(acknowledged: shortfall.acknowledged)
        case .failure:
            return .unconfirmed(acknowledged: 0)
        }
    }
}

extension Flusher {
    /// The entries of `entries` whose streams' replicas confirmed them (all when waiting is off).
    /// The others' streams are re-read from this consumer's pending entries later (`history`).
    func replicated(_ entries: [GrantEntry], redis: BlockingRedisConnection) throws -> [GrantEntry] {
        guard let wait = options.replicaWait, !entries.isEmpty else { return entries }
        var lastIdByStream: [String: String] = [:]
        for entry in entries { lastIdByStream[entry.stream] = entry.streamId }  // read in stream order
        let streams = lastIdByStream.keys.sorted()
        let fences = streams.map { ReplicatedBatch.fenceCommand(stream: $0, lastId: lastIdByStream[$0]!, consumer: consumer) }
        var held: [String: Int] = [:]
        for (stream, reply) in zip(streams, try redis.pipeline(fences, confirmedBy: wait)) {
            if case .unconfirmed(let acknowledged) = ReplicatedBatch.verdict(reply, lastId: lastIdByStream[stream]!) {
                held[stream] = acknowledged
            }
        }
        guard !held.isEmpty else { return entries }
        let kept = entries.filter { held[$0.stream] == nil }
        let heldBack = entries.count - kept.count
        history.formUnion(held.keys)
        metrics.entriesUnreplicated.add(heldBack, ordering: .relaxed)
        log("flusher_unreplicated", [
            "entries": String(heldBack), "streams": String(held.count),
            "acknowledged": String(held.values.min() ?? 0), "required": String(wait.replicas),
        ])
        return kept
    }
}
