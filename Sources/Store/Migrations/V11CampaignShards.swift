extension CouponSchema {
    /// Stock shards of a campaign (issue 10 §1): 1 = unsharded (every existing campaign).
    static let v11CampaignShards = """
        ALTER TABLE campaigns ADD COLUMN shards int NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 16);
        """
}
