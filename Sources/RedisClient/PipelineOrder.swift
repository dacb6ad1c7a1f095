/// The order of one pipelined connection's replies, across `NOSCRIPT` retries, and the scripts
/// its session has loaded. Pure: no socket, no clock; `RedisConnection` drives it.
///
/// A script is loaded on first use in a session (`SCRIPT LOAD` pipelined right before its
/// first `EVALSHA`, so it costs no round trip), and again after a reconnect: a fresh or
/// restarted Redis never answers `NOSCRIPT`. Only a `SCRIPT FLUSH` by someone else while
/// commands are in flight can; then the call is re-sent (load + `EVALSHA`) and the replies of
/// commands sent after it are held until it answers, so completions still run in the order
/// the commands were sent. (Commands behind it that needed no script have run on the server
/// by then; what the server did cannot be reordered, only what the callers see.)
struct PipelineOrder<Delivery> {
    /// Scripts (SHA-1) this session has loaded, or has a `SCRIPT LOAD` in flight for.
    private(set) var loadedScripts: Set<String> = []
    private var nextSequence: UInt64 = 0
    /// Calls re-sent after `NOSCRIPT`, by sequence, oldest first.
    private(set) var retrying: [UInt64] = []
    /// Replies that arrived while an older call was being re-sent, oldest first.
    private var held: [(sequence: UInt64, delivery: Delivery)] = []

    var heldCount: Int { held.count }

    /// Numbers the next command. For a script call, `loadFirst` says to pipeline `SCRIPT LOAD`
    /// right before its `EVALSHA` (first use in this session).
    mutating func issue(script sha1: String? = nil) -> (sequence: UInt64, loadFirst: Bool) {
        let sequence = nextSequence
        nextSequence += 1
        guard let sha1 else { return (sequence, false) }
        return (sequence, loadedScripts.insert(sha1).inserted)
    }

    /// A `SCRIPT LOAD` failed: the next call of the script loads it again.
    mutating func loadFailed(_ sha1: String) { loadedScripts.remove(sha1) }

    enum Step {
        /// Deliver this reply now; nothing is waiting.
        case deliverNow
        /// Keep it: an older call is being re-sent.
        case held
        /// Re-send the call: `SCRIPT LOAD`, then its `EVALSHA` again.
        case resend
        /// Deliver these, in this order (this reply first, then the ones it was holding back).
        case release([Delivery])
    }

    /// The reply to command `sequence` arrived. `noscript` names the script when the reply is
    /// `NOSCRIPT` and the call may be re-sent (once, and not after its own load failed).
    mutating func replied(_ sequence: UInt64, _ delivery: Delivery, noscript sha1: String? = nil) -> Step {
        if let sha1 {
            loadedScripts.insert(sha1)  // the re-send loads it
            let index = retrying.firstIndex { $0 > sequence } ?? retrying.endIndex
            retrying.insert(sequence, at: index)
            return .resend
        }
        if retrying.isEmpty && held.isEmpty { return .deliverNow }
        if let index = retrying.firstIndex(of: sequence) { retrying.remove(at: index) }
        if let oldest = retrying.first, sequence > oldest {
            let index = held.firstIndex { $0.sequence > sequence } ?? held.endIndex
            held.insert((sequence, delivery), at: index)
            return .held
        }
        var released = [delivery]
        while let first = held.first, retrying.first.map({ first.sequence < $0 }) ?? true {
            released.append(first.delivery)
            held.removeFirst()
        }
        return .release(released)
    }

    /// The session ended (reconnect): nothing is loaded any more. Returns replies still held,
    /// in order (none when every command was answered, as hiredis guarantees before cleanup).
    mutating func reset() -> [Delivery] {
        loadedScripts.removeAll()
        retrying.removeAll()
        defer { held.removeAll() }
        return held.map(\.delivery)
    }
}

extension PipelineOrder.Step: Equatable where Delivery: Equatable {}
