/// Claims a loop collected in its current turn, per campaign, in arrival order: the pure
/// state of the engine's batching. The first claim of a turn asks for a flush at the end of
/// the turn; a campaign whose batch reaches `max` is sent at once.
struct ClaimBatches<Item> {
    enum Action {
        /// First claim of the turn: drain at the end of the turn.
        case flushAtEndOfTurn
        /// Collected; the pending flush will send it.
        case wait
        /// The campaign's batch is full: send these now.
        case send([Item])
    }

    let max: Int
    private var pending: [Int64: [Item]] = [:]
    private var order: [Int64] = []
    private var flushScheduled = false

    init(max: Int) {
        precondition(max >= 1)
        self.max = max
    }

    var isEmpty: Bool { pending.isEmpty }

    mutating func add(_ item: Item, campaignId: Int64) -> Action {
        if pending[campaignId] == nil { order.append(campaignId) }
        pending[campaignId, default: []].append(item)
        if pending[campaignId]!.count >= max {
            let full = pending.removeValue(forKey: campaignId)!
            order.removeAll { $0 == campaignId }
            return .send(full)
        }
        guard !flushScheduled else { return .wait }
        flushScheduled = true
        return .flushAtEndOfTurn
    }

    /// Everything collected, one batch per campaign in order of first arrival; the next
    /// claim starts a new turn.
    mutating func drain() -> [(campaignId: Int64, items: [Item])] {
        let batches = order.compactMap { id in pending[id].map { (campaignId: id, items: $0) } }
        pending = [:]
        order = []
        flushScheduled = false
        return batches
    }
}
