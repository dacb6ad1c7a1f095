import Issuance
import GrantFlusher
import PostgresClient
import RedisClient
import Store

/// Runs one checkout command against PostgreSQL: the coupon row is locked, the lifecycle
/// decides, and the row with its events is written in the same transaction.
public enum Checkout {
    /// `findGrant` is asked only when PostgreSQL does not know the code: it returns the
    /// user's grant still on its way through the stream (see `UnflushedGrants`), which is
    /// then written first, in the same transaction, exactly as the flusher would.
    public static func perform(
        _ command: CheckoutCommand, code: String, userId: String, place: CheckoutPlace? = nil, on connection: PostgresConnection,
        findGrant: () throws -> Grant?
    ) throws -> Result<CheckoutReceipt, CheckoutRefusal> {
        var pending: Grant?
        switch try CheckoutStore.owner(code: code, on: connection) {
        case .some(let owner) where owner != userId:
            // Another user's code answers exactly like an unknown one, in time too: the same
            // lookup of this user's unflushed grants runs (and finds nothing) on both paths.
            _ = try findGrant()
            _ = try CheckoutStore.owner(code: code, on: connection)  // the same second look as an unknown code
            return .failure(.notFound)
        case .some:
            break
        case .none:
            // Redis is read before the transaction so no row lock waits on it.
            if let grant = try findGrant(), grant.code == code, grant.userId == userId {
                pending = grant
            } else if try CheckoutStore.owner(code: code, on: connection) != userId {
                // Not in the index either. A second look at PostgreSQL: the flusher removes the index
                // entry right after committing the row, so a grant flushed between the two reads is there.
                return .failure(.notFound)
            }
        }
        let result: Result<CheckoutReceipt, CheckoutRefusal> = try connection.transaction { connection in
            if let pending { try GrantWriter.write([pending], on: connection) }
            guard let coupon = try CheckoutStore.lock(code: code, on: connection) else { return .failure(.notFound) }
            let nowMs = try CheckoutStore.nowMs(on: connection)
            let plan = CouponLifecycle.plan(command, userId: userId, coupon: coupon, nowMs: nowMs)
            try CheckoutStore.write(plan, nowMs: nowMs, place: place, on: connection)
            return plan.result
        }
        // At a store, a scope that excludes the store is said the way a clerk understands it.
        if place != nil, case .failure(.outOfScope) = result { return .failure(.notUsableHere) }
        return result
    }
}
