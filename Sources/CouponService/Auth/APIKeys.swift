import CouponCore
import HTTPServer
import Store
import Synchronization

/// What a key may do; each key has exactly one role (ARCHITECTURE §6).
public enum Role: String, Sendable, CaseIterable {
    case issue, checkout, admin, finance
}

/// API keys: `cpk_` + 32 Crockford base32 characters (160 random bits). PostgreSQL keeps
/// only the SHA-256 of a key.
public enum APIKey {
    public static func generate() -> String {
        "cpk_" + CouponCode.random().value + CouponCode.random().value
    }

    public static func hash(_ key: String) -> String { SHA256.hexDigest(key) }

    /// The key of an `Authorization: Bearer <key>` header.
    static func bearer(_ request: HTTPRequest) -> String? {
        guard let header = request.headers["authorization"] else { return nil }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.hasPrefix(prefix) else { return nil }
        let key = header.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
        return key.isEmpty || key.count > 200 ? nil : key
    }
}

/// Keys this node has seen, by their raw value, so the hot path hashes nothing and asks
/// PostgreSQL once per key. Unknown keys are remembered briefly so a flood of bad keys
/// does not become a flood of queries.
public final class KeyCache: Sendable {
    private struct State {
        var known: [String: Role] = [:]
        var unknownUntil: [String: UInt64] = [:]
    }

    private let state = Mutex(State())
    private let negativeTTLNanos: UInt64 = 5_000_000_000

    public init() {}

    enum Lookup {
        case known(Role)
        case unknown
        case miss
    }

    func lookup(_ key: String, now: UInt64) -> Lookup {
        state.withLock { state in
            if let role = state.known[key] { return .known(role) }
            if let until = state.unknownUntil[key], until > now { return .unknown }
            return .miss
        }
    }

    func remember(_ key: String, role: Role?, now: UInt64) {
        state.withLock { state in
            if let role {
                state.known[key] = role
                state.unknownUntil[key] = nil
            } else {
                if state.unknownUntil.count > 10_000 { state.unknownUntil.removeAll() }
                state.unknownUntil[key] = now + negativeTTLNanos
            }
        }
    }
}

import Foundation
