import RedisClient

/// What a node records in Redis after answering a grant, so that nothing has to look at every
/// campaign: a per-user index of grants not yet flushed (the wallet's and redeem's view of
/// them) and the set of campaigns whose grant streams have new entries (the flushers' to-do
/// list). The claim script cannot write these: they live outside the campaign's hash tag
/// `{c:ID}`, and one script may touch keys of one Redis Cluster slot only. So they are
/// hints, written after the reply and pipelined with the loop's other commands; a hint lost
/// with a dying node or Redis is healed by a retry of the claim (a replay rewrites both), by
/// the flush itself (the wallet then reads PostgreSQL), and by the flushers' slow sweep.
public enum GrantHints {
    /// Set of campaign ids whose grant streams may hold entries no flusher has read.
    public static let dirtyCampaigns = "cp:dirty"

    /// Sorted set per user (own hash tag `{u:<user>}`): member `campaign|code|at|valid_from|valid_until|stream_id|request_id`,
    /// score = issue time (ms). The flusher removes an entry once its grant is committed to
    /// PostgreSQL; the key expires `userIndexTTLMs` after its last write, and entries older than
    /// that (a removal that never ran) are dropped by the reader that finds them.
    public static func userIndex(of userId: String) -> String {
        var key: [UInt8] = []
        appendUserIndex(of: userId, to: &key)
        return String(decoding: key, as: UTF8.self)
    }

    /// The key's bytes: the one place its layout is written.
    static func appendUserIndex(of userId: String, to key: inout [UInt8]) {
        key.append(contentsOf: "cp:{u:".utf8)
        key.append(contentsOf: userId.utf8)
        key.append(contentsOf: "}:grants".utf8)
    }
    public static let userIndexTTLMs: Int64 = ClaimScript.requestTTLMs

    /// The channel of bulk-job grants (issue 12), which are not indexed: nobody is answered
    /// "you got it" for them — their users hear of them from the `coupon.granted` webhook, sent
    /// once the grant is in PostgreSQL, where the wallet and checkout read it.
    public static let unindexedChannel = "bulk"

    /// False for grants no user index holds (the flusher then has no entry to remove).
    public static func isIndexed(_ grant: Grant) -> Bool { isIndexed(channel: grant.channel) }

    /// False for grants of `channel` (a claim naming `bulk` is treated as a bulk grant).
    public static func isIndexed(channel: String?) -> Bool { channel != unindexedChannel }

    /// The two commands that add `grant` to its user's index (plain commands, no script: this
    /// is on the claim path). Old entries are dropped by readers (`trimCommand`).
    public static func indexCommands(_ grant: Grant) -> [[RedisArgument]] {
        let key = RedisArgument.string(userIndex(of: grant.userId))
        return [["ZADD", key, .int(grant.issuedAtMs), .string(member(grant))], ["PEXPIRE", key, .int(userIndexTTLMs)]]
    }

    /// `ZREM` of `grant`'s index entry: the flusher's, once the grant is in PostgreSQL (the wallet
    /// then reads it there), so a flushed grant keeps no index memory; an emptied key vanishes.
    public static func removeCommand(_ grant: Grant) -> [RedisArgument] {
        ["ZREM", .string(userIndex(of: grant.userId)), .string(member(grant))]
    }

    /// Drops index entries issued before `nowMs - userIndexTTLMs`.
    public static func trimCommand(userId: String, nowMs: Int64) -> [RedisArgument] {
        ["ZREMRANGEBYSCORE", .string(userIndex(of: userId)), "-inf", .string("(\(nowMs - userIndexTTLMs)")]
    }

    /// `SADD cp:dirty id...`
    public static func markDirtyCommand(_ campaignIds: [Int64]) -> [RedisArgument] {
        ["SADD", .string(dirtyCampaigns)] + campaignIds.map { .string(String($0)) }
    }

    /// `ZRANGE <index> 0 -1`: every indexed grant of the user.
    public static func readCommand(userId: String) -> [RedisArgument] {
        ["ZRANGE", .string(userIndex(of: userId)), "0", "-1"]
    }

    /// The user-index commands of one loop's grants (`indexCommands`' wire form), rewritten in
    /// place for every grant: the arrays and the key and member bytes are reused, so once they
    /// have grown to the usual size the claim path's hints allocate nothing here.
    public final class IndexCommands {  // confined to one loop (its engine's)
        private var zadd: [RedisArgument] = ["ZADD", .bytes([]), .int(0), .bytes([])]
        private var pexpire: [RedisArgument] = ["PEXPIRE", .bytes([]), .int(userIndexTTLMs)]

        public init() {}

        /// Lends `body` the `ZADD` and `PEXPIRE` of `grant`; valid only inside `body`.
        public func with<R>(_ grant: Grant, _ body: (_ zadd: [RedisArgument], _ pexpire: [RedisArgument]) -> R) -> R {
            guard case .bytes(var key) = zadd[1], case .bytes(var member) = zadd[3] else { preconditionFailure("GrantHints.IndexCommands: layout") }
            // Nothing else may hold the buffers while they are rewritten (else they would be copied).
            zadd[1] = .int(0)
            zadd[3] = .int(0)
            pexpire[1] = .int(0)
            key.removeAll(keepingCapacity: true)
            appendUserIndex(of: grant.userId, to: &key)
            member.removeAll(keepingCapacity: true)
            appendMember(grant, to: &member)
            zadd[1] = .bytes(key)
            zadd[2] = .int(grant.issuedAtMs)
            zadd[3] = .bytes(member)
            pexpire[1] = .bytes(key)
            return body(zadd, pexpire)
        }
    }

    static func member(_ grant: Grant) -> String {
        var member: [UInt8] = []
        appendMember(grant, to: &member)
        return String(decoding: member, as: UTF8.self)
    }

    /// The member's bytes, `campaign|code|at|valid_from|valid_until|stream_id|request_id`: the
    /// one place its layout is written (`grant(member:userId:)` reads it).
    static func appendMember(_ grant: Grant, to member: inout [UInt8]) {
        RedisArgument.appendDecimal(grant.campaignId, to: &member)
        member.append(UInt8(ascii: "|"))
        member.append(contentsOf: grant.code.utf8)
        member.append(UInt8(ascii: "|"))
        RedisArgument.appendDecimal(grant.issuedAtMs, to: &member)
        member.append(UInt8(ascii: "|"))
        RedisArgument.appendDecimal(grant.validFromMs, to: &member)
        member.append(UInt8(ascii: "|"))
        RedisArgument.appendDecimal(grant.validUntilMs, to: &member)
        member.append(UInt8(ascii: "|"))
        member.append(contentsOf: grant.streamId.utf8)
        member.append(UInt8(ascii: "|"))
        member.append(contentsOf: grant.requestId.utf8)
    }

    /// Parses an index member; nil when it is not one `member` wrote.
    public static func grant(member: String, userId: String) -> Grant? {
        guard let bar = member.firstIndex(of: "|"), let campaignId = Int64(member[..<bar]) else { return nil }
        let record = String(member[member.index(after: bar)...])
        guard record.split(separator: "|", omittingEmptySubsequences: false).count == 6 else { return nil }
        return Grant(record: record, campaignId: campaignId, userId: userId, requestId: "")
    }
}
