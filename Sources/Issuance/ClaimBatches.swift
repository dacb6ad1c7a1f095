/// Claims a loop collected in its current turn, per campaign (and stock shard), in arrival order: the pure
/// state of the engine's batching. The first claim of a turn asks for a flush at the end of
/// the turn; a campaign whose batch reaches `max` is sent at once.
struct ClaimBatches<Key: Hashable, Item> {
    enum Action {
        /// First claim of the turn: drain at the end of the turn.
        case flushAtEndOfTurn
        /// Collected; the pending flush will send it.
        case wait
        /// The campaign's batch is full: send these now.
        case send([Item])
    }

    let max: Int
    private var pending: [Key: [Item]] = [:]
    private var order: [Key] = []
    private var flushScheduled = false

    init(max: Int) {
        precondition(max >= 1)
        self.max = max
    }

    var isEmpty: Bool { pending.isEmpty }

    mutating func add(_ item: Item, key: Key) -> Action {
        if pending[key] == nil { order.append(key) }
        pending[key, default: []].append(item)
        if pending[key]!.count >= max {
            let full = pending.removeValue(forKey: key)!
            order.removeAll { $0 == key }
            return .send(full)
        }
        guard !flushScheduled else { return .wait }
        flushScheduled = true
        return .flushAtEndOfTurn
    }

    /// Everything collected, one batch per campaign in order of first arrival; the next
    /// claim starts a new turn.
    mutating func drain() -> [(key: Key, items: [Item])] {
        let batches = order.compactMap { key in pending[key].map { (key: key, items: $0) } }
        pending = [:]
        order = []
        flushScheduled = false
        return batches
    }
}
