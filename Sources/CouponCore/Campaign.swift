/// A campaign: a template's coupons offered with a stock, a per-user limit, a claim window
/// and eligibility rules. Times are epoch milliseconds (UTC).
public struct Campaign: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case active, paused, ended
    }

    public var id: Int64
    public var templateId: Int64
    public var name: String
    public var stockTotal: Int64
    public var perUserLimit: Int
    public var claimStartMs: Int64
    public var claimEndMs: Int64
    public var validity: ValidityRule
    public var eligibility: Eligibility
    public var state: State
    /// Per-day and per-week caps in the campaign's time zone (issue 12); nil: none.
    public var periodCaps: PeriodCaps?
    /// Stock shards (issue 10): 1 = one keyspace (the default); K > 1 splits the stock over K
    /// Redis keyspaces on K slots. Fixed at creation.
    public var shards: Int

    public init(
        id: Int64, templateId: Int64, name: String, stockTotal: Int64, perUserLimit: Int,
        claimStartMs: Int64, claimEndMs: Int64, validity: ValidityRule, eligibility: Eligibility = .everyone,
        state: State = .active, periodCaps: PeriodCaps? = nil, shards: Int = 1
    ) {
        self.shards = shards
        self.id = id
        self.templateId = templateId
        self.name = name
        self.stockTotal = stockTotal
        self.perUserLimit = perUserLimit
        self.claimStartMs = claimStartMs
        self.claimEndMs = claimEndMs
        self.validity = validity
        self.eligibility = eligibility
        self.state = state
        self.periodCaps = periodCaps
    }

    /// Limits a campaign must respect; checked before anything is stored.
    public static let maxStock: Int64 = 1_000_000_000
    public static let maxPerUserLimit = 1_000
    /// Shards a campaign may have (`Issuance.CampaignShards.range` follows it).
    public static let shardRange = 1...16

    /// The problems with this campaign's settings, empty when it can be stored.
    public func validationErrors() -> [ValidationError] {
        var errors: [ValidationError] = []
        if name.isEmpty || name.count > 200 {
            errors.append(ValidationError(field: "name", message: "must be 1 to 200 characters"))
        }
        if stockTotal < 0 || stockTotal > Self.maxStock {
            errors.append(ValidationError(field: "stock", message: "must be between 0 and \(Self.maxStock)"))
        }
        if perUserLimit < 1 || perUserLimit > Self.maxPerUserLimit {
            errors.append(ValidationError(field: "per_user_limit", message: "must be between 1 and \(Self.maxPerUserLimit)"))
        }
        if !Self.shardRange.contains(shards) {
            errors.append(ValidationError(field: "shards", message: "must be between \(Self.shardRange.lowerBound) and \(Self.shardRange.upperBound)"))
        }
        if claimEndMs <= claimStartMs {
            errors.append(ValidationError(field: "claim_end", message: "must be after claim_start"))
        }
        errors += validity.validationErrors()
        if case .fixed(_, let untilMs) = validity, untilMs < claimEndMs, claimEndMs > claimStartMs {
            errors.append(
                ValidationError(
                    field: "validity.until",
                    message: "must not be before claim_end: a coupon claimed after it would be born expired"))
        }
        if eligibility.requiredTags.count > 20 || !eligibility.requiredTags.allSatisfy(Identifier.isValid) {
            errors.append(ValidationError(field: "eligibility.required_tags", message: "at most 20 tags of A-Z a-z 0-9 _ - . : @"))
        }
        errors += periodCaps?.validationErrors() ?? []
        return errors
    }
}

/// Who may claim: a user qualifies when the campaign requires no tag, or when the claim
/// carries at least one of the required tags (tags are asserted by the calling backend).
public struct Eligibility: Sendable, Equatable {
    public var requiredTags: [String]

    public init(requiredTags: [String]) { self.requiredTags = requiredTags }

    public static let everyone = Eligibility(requiredTags: [])

    public func admits(tags: [String]) -> Bool {
        requiredTags.isEmpty || tags.contains(where: requiredTags.contains)
    }
}

/// Why a claim was refused, as the API names it.
public enum ClaimRefusal: String, Sendable, CaseIterable {
    case soldOut = "sold_out"
    case limitReached = "limit_reached"
    case notStarted = "not_started"
    case ended
    case paused
    case notEligible = "not_eligible"
    /// The campaign's fixed validity is over: a coupon granted now would be born expired.
    case validityEnded = "validity_ended"
    /// An exchange campaign (it has a points cost): its coupons are taken through
    /// `POST /v1/campaigns/{id}/exchanges`, never by a plain claim (issue 11).
    case pointsRequired = "points_required"
    /// Period caps (issue 12): the user's units of this local day / ISO week, or the units of
    /// this stock day (from one daily release to the next), are all taken.
    case dailyLimitReached = "daily_limit_reached"
    case weeklyLimitReached = "weekly_limit_reached"
    case dailySoldOut = "daily_sold_out"
}

extension Campaign {
    /// Features that read and write shard 0's keys only (issue 10 §1 left them unsharded):
    /// refused on a campaign with `shards > 1`, so they can never under-count its stock or its
    /// users. The message names the feature; nil when the campaign may use it.
    public func refusesOnShards(_ feature: String) -> String? {
        shards > 1 ? "\(feature) is not available on a campaign with shards > 1 (it has \(shards))" : nil
    }
}
