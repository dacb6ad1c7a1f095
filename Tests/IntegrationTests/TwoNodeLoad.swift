import Foundation
import ServiceTestSupport
import TestSupport
import Testing

/// The closed-loop claim load of the cluster suites: 64 connections alternating between two
/// nodes, thread t sending claims t, t + 64, …; `claim(i)` names claim i's campaign and user
/// (its request id is `r<i>`). `onTrigger` runs once, on its own thread, when `trigger` claims
/// are done (a slot migration overlapping the sale).
struct TwoNodeLoad {
    struct Answer {
        var campaign: Int64
        /// Seconds since the load started.
        var at: Double
        var outcome: ClaimOutcome
    }

    struct Result {
        var outcomes: [Answer]
        var failures: [String]
        var finished: Bool
        var seconds: Double
    }

    static func run(
        nodes: [TestNode], total: Int, trigger: Int, onTrigger: (@Sendable () -> Void)?,
        claim: @escaping @Sendable (Int) -> (campaign: Int64, user: String)
    ) -> Result {
        let threads = 64
        let outcomes = Locked<[Answer]>([])
        let failures = Locked<[String]>([])
        let done = Locked(0)
        let fired = Locked(false)
        let started = Date()
        let finished = ConcurrentRun.run(threads: threads, timeoutSeconds: 300) { thread in
            let node = nodes[thread % 2]
            let client = node.client(timeoutSeconds: 15)
            defer { client.close() }
            var mine: [Answer] = []
            for index in stride(from: thread, to: total, by: threads) {
                let (campaign, user) = claim(index)
                do {
                    let outcome = try node.timedClaim(campaignId: campaign, userId: user, requestId: "r\(index)", on: client)
                    mine.append(Answer(campaign: campaign, at: Date().timeIntervalSince(started), outcome: outcome))
                } catch {
                    failures.withLock { $0.append("claim \(index): \(error)") }
                }
                let count = done.withLock { value -> Int in value += 1; return value }
                if count == trigger, let onTrigger, fired.withLock({ once in defer { once = true }; return !once }) {
                    Thread { onTrigger() }.start()
                }
            }
            outcomes.withLock { $0 += mine }
        }
        return Result(outcomes: outcomes.current, failures: failures.current, finished: finished, seconds: Date().timeIntervalSince(started))
    }
}

extension TwoNodeLoad.Result {
    /// Every claim was answered, each 201 or 409 (no failure, no 5xx); prints the rate (with
    /// `shape`, the run's description) and the statuses.
    func expectEveryClaimAnswered(_ claims: Int, shape: String, label: String) {
        print("[\(label)] \(shape): \(Int(Double(claims) / seconds)) claims/s over 2 nodes, 64 connections (\(String(format: "%.2f", seconds)) s)")
        #expect(finished)
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(5))")
        #expect(outcomes.count == claims)
        var statuses: [Int: Int] = [:]
        for item in outcomes { statuses[item.outcome.status, default: 0] += 1 }
        print("[\(label)] statuses \(statuses.sorted { $0.key < $1.key })")
        #expect(Set(statuses.keys).isSubset(of: [201, 409]), "no 5xx, no other answer: \(statuses)")
    }
}
