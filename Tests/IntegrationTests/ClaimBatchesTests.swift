import Testing

@testable import Issuance

/// The engine's batching state (`ClaimBatches`), without sockets.
@Suite struct ClaimBatchesTests {
    @Test func firstClaimOfATurnAsksForAFlushAndTheRestWait() {
        var batches = ClaimBatches<Int64, String>(max: 4)
        #expect(batches.add("a1", key: 1).isFlush)
        #expect(batches.add("b1", key: 2).isWait)
        #expect(batches.add("a2", key: 1).isWait)
        let drained = batches.drain()
        #expect(drained.map(\.key) == [1, 2])
        #expect(drained.map(\.items) == [["a1", "a2"], ["b1"]])
        #expect(batches.isEmpty)
        // The next claim starts a new turn.
        #expect(batches.add("a3", key: 1).isFlush)
    }

    @Test func aFullBatchIsSentAtOnceAndLaterClaimsStartANewOne() {
        var batches = ClaimBatches<Int64, Int>(max: 3)
        #expect(batches.add(1, key: 7).isFlush)
        #expect(batches.add(2, key: 7).isWait)
        #expect(batches.add(3, key: 7).sent == [1, 2, 3])
        #expect(batches.add(4, key: 7).isWait)  // the flush asked for by claim 1 is still to come
        #expect(batches.drain().map(\.items) == [[4]])
        #expect(batches.drain().isEmpty)
    }
}

extension ClaimBatches.Action {
    var isFlush: Bool { if case .flushAtEndOfTurn = self { true } else { false } }
    var isWait: Bool { if case .wait = self { true } else { false } }
    var sent: [Item]? { if case .send(let items) = self { items } else { nil } }
}

import CouponService

/// `--claim-batch-max` / `COUPOND_CLAIM_BATCH_MAX`: default 64, 1…1024.
@Suite struct ClaimBatchSettingTests {
    @Test func parsesFromFlagAndEnvironmentAndRefusesOutOfRange() throws {
        #expect(Configuration().claimBatchMax == 64)
        #expect(try Configuration.parse(arguments: ["--claim-batch-max", "1"], environment: [:]).0.claimBatchMax == 1)
        #expect(try Configuration.parse(arguments: [], environment: ["COUPOND_CLAIM_BATCH_MAX": "128"]).0.claimBatchMax == 128)
        for bad in ["0", "1025", "x"] {
            #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--claim-batch-max", bad], environment: [:]) }
        }
    }
}
