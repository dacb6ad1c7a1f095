import EventLoop
import Issuance
import RedisClient
import Synchronization

/// Writes the `GrantHints` of a granted (or replayed) claim on the loop's Redis connection,
/// after the reply, without waiting for the answer: the user-index entry per grant, and one
/// `SADD cp:dirty` per loop turn for every campaign granted in that turn.
final class GrantHintWriter: Sendable {
    /// Campaign ids granted in the current turn and not yet marked dirty, per loop.
    private let pending = Mutex<[ObjectIdentifier: Set<Int64>]>([:])

    func record(_ grant: Grant, redis: any AsyncRedis, loop: EventLoop) {
        for command in GrantHints.indexCommands(grant) { redis.send(command) { _ in } }
        let id = ObjectIdentifier(loop)
        let first = pending.withLock { table -> Bool in
            let wasEmpty = table[id]?.isEmpty ?? true
            table[id, default: []].insert(grant.campaignId)
            return wasEmpty
        }
        guard first else { return }
        let hop = LoopBound(redis, loop: loop)
        loop.execute { [self] in
            let campaigns = pending.withLock { table in table.removeValue(forKey: id) ?? [] }
            guard !campaigns.isEmpty else { return }
            hop.value.send(GrantHints.markDirtyCommand(campaigns.sorted())) { _ in }
        }
    }
}
