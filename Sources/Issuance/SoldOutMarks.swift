import EventLoop
import Synchronization

/// The node-local "sold out" mark, shared by a node's engines: after Redis answers `sold_out`
/// for a campaign, claims for it run the read-only `SoldOutProbe` instead of the claim script
/// for a while. Only a hint: a request whose id Redis has seen, or any case where the script
/// would refuse for another reason, still goes through the script (replays beat the mark); a
/// `granted` answer clears it.
public final class SoldOutMarks: Sendable {
    private let expiries = Mutex<[Int64: UInt64]>([:])

    public init() {}

    public func isMarked(_ campaignId: Int64) -> Bool {
        guard let expiry = expiries.withLock({ $0[campaignId] }) else { return false }
        return MonotonicClock.now() < expiry
    }

    public func mark(_ campaignId: Int64, forNanoseconds nanos: UInt64) {
        let expiry = MonotonicClock.now() &+ nanos
        expiries.withLock { $0[campaignId] = expiry }
    }

    public func clear(_ campaignId: Int64) {
        _ = expiries.withLock { $0.removeValue(forKey: campaignId) }
    }
}
