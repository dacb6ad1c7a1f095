import RedisClient

/// One claim as the engine takes it: already validated input (identifiers, at most 20 tags).
public struct ClaimRequest: Sendable, Equatable {
    public let campaignId: Int64
    public let userId: String
    public let requestId: String
    public let tags: [String]
    /// The channel the claim came through (issue 12), one of the node's `claim-channels`; "" = none.
    public let channel: String

    public init(campaignId: Int64, userId: String, requestId: String, tags: [String], channel: String = "") {
        self.campaignId = campaignId
        self.userId = userId
        self.requestId = requestId
        self.tags = tags
        self.channel = channel
    }
}

/// Why the engine could not decide a claim.
public enum ClaimEngineError: Error, Sendable, Equatable {
    /// Redis failed or could not be reached (`RedisError.isUnavailable` decides a 503).
    case redis(RedisError)
    /// Redis answered something no claim script produces.
    case badReply(String)
}
