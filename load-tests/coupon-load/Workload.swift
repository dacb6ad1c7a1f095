import Foundation
import Issuance

/// Which user makes claim number `i`, and its request id. Uniform: round-robin over the users,
/// so every user makes exactly `claimsPerUser` claims, spread over the run. Zipf: users drawn
/// with probability ∝ 1/rank^s (a deterministic hash of `i`), the same total number of claims.
struct Workload: Sendable {
    let users: Int
    let totalClaims: Int
    let runId: String
    let shardSkew: Int
    private let cumulative: [Double]?

    init(options: LoadOptions, runId: String) {
        users = options.users
        totalClaims = options.users * options.claimsPerUser
        self.runId = runId
        shardSkew = options.shardSkew
        if options.distribution == .zipf {
            var sums = [Double](repeating: 0, count: options.users)
            var sum = 0.0
            for rank in 0..<options.users {
                sum += 1 / pow(Double(rank + 1), options.zipfExponent)
                sums[rank] = sum
            }
            cumulative = sums.map { $0 / sum }
        } else {
            cumulative = nil
        }
    }

    func user(ofClaim index: Int) -> Int {
        guard let cumulative else { return index % users }
        let draw = Double(Self.splitmix(UInt64(index)) >> 11) / Double(1 << 53)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < draw { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func userId(_ user: Int) -> String {
        let plain = "u\(runId)-\(user)"
        guard shardSkew > 1, user % 3 != 2 else { return plain }
        // Two users in three: the first `plain.j` homed on shard 0.
        var suffix = 0
        while CampaignShards.homeShard(userId: "\(plain).\(suffix)", count: shardSkew) != 0 { suffix += 1 }
        return "\(plain).\(suffix)"
    }
    func requestId(ofClaim index: Int) -> String { "r\(runId)-\(index)" }

    static func splitmix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
