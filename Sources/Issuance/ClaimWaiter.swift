/// Who hears a claim's decision from `ClaimEngine`, on the engine's loop.
///
/// A conforming value of up to three words (e.g. a handler reference and a responder) is held
/// inline by the engine's pending claim: no closure context is allocated per claim, unlike a
/// closure that captures them. `ClaimEngine.claim(_:_:)` wraps a closure in `ClosureWaiter`.
public protocol ClaimWaiter {
    /// `request` is the claim as submitted; `engine` the engine that decided it.
    func claimDecided(_ result: Result<ClaimDecision, ClaimEngineError>, request: ClaimRequest, engine: ClaimEngine)
}

/// A closure as a `ClaimWaiter`.
struct ClosureWaiter: ClaimWaiter {
    let body: ClaimEngine.Completion

    func claimDecided(_ result: Result<ClaimDecision, ClaimEngineError>, request: ClaimRequest, engine: ClaimEngine) {
        body(result)
    }
}

extension ClaimEngine {
    /// Hands `result` to the claim's waiter.
    func complete(_ pending: Pending, _ result: Result<ClaimDecision, ClaimEngineError>) {
        pending.waiter.claimDecided(result, request: pending.request, engine: self)
    }
}
