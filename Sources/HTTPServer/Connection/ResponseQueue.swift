/// One slot per request read on a connection, in request order. Handlers fill slots in any
/// order; responses leave strictly in order (pipelining, RFC 9112 §9.3.2).
struct ResponseQueue {
    struct Slot {
        var response: HTTPResponse?
        let routePattern: String
        let method: HTTPMethod
        let startNanos: UInt64
        /// Close the connection after this response.
        var close: Bool
        /// The request was HEAD: send the head only.
        let toHEAD: Bool
        /// Answer `Connection: keep-alive` (HTTP/1.0 client that asked for it).
        let http10KeepAlive: Bool
    }

    private var slots: [Slot] = []
    private var head = 0
    /// Sequence number of `slots[head]`.
    private var firstSequence: UInt64 = 0

    /// Requests read and not yet answered on the wire.
    var count: Int { slots.count - head }

    mutating func reserve(_ slot: Slot) -> UInt64 {
        if head > 0 && head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        }
        slots.append(slot)
        return firstSequence &+ UInt64(count - 1)
    }

    /// Stores the response for `sequence`; false if the slot is unknown, gone or already filled.
    mutating func fill(_ sequence: UInt64, _ response: HTTPResponse) -> Bool {
        guard sequence >= firstSequence, sequence - firstSequence < UInt64(count) else { return false }
        let index = head + Int(sequence - firstSequence)
        guard slots[index].response == nil else { return false }
        slots[index].response = response
        return true
    }

    /// The oldest slot if its response is ready.
    mutating func popReady() -> Slot? {
        guard head < slots.count, slots[head].response != nil else { return nil }
        let slot = slots[head]
        slots[head].response = nil  // release the body now
        head += 1
        firstSequence &+= 1
        return slot
    }

    /// Makes the newest unanswered request's response the connection's last (graceful drain).
    /// False when nothing is unanswered.
    mutating func closeAfterNewest() -> Bool {
        guard count > 0 else { return false }
        slots[slots.count - 1].close = true
        return true
    }

    mutating func removeAll() {
        firstSequence &+= UInt64(count)
        slots.removeAll()
        head = 0
    }
}
