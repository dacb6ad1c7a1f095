import CouponCore
import RedisClient

/// Publishes a campaign's settings and stock to Redis. Idempotent and convergent: publishing
/// the same campaign again never resets stock; a changed `stock_total` moves the remaining
/// stock by the difference. Called on create, on every change and at node start.
public enum CampaignPublisher {
    public static let script = RedisScript(source)

    /// The script's keys and arguments for `campaign` (unsharded, or shard 0 of a sharded one);
    /// `alreadyIssued` is how many coupons PostgreSQL and the stream know of, used only when
    /// Redis has never seen the campaign.
    public static func command(for campaign: Campaign, alreadyIssued: Int64) -> (keys: [RedisArgument], args: [RedisArgument]) {
        commands(for: campaign, alreadyIssued: alreadyIssued).last!
    }

    /// One publish call per shard, shard 0 last: a node that finds shard 0's meta (`state`)
    /// may rely on every shard existing. Each shard gets the campaign's settings plus its own
    /// allocation (`CampaignShards.allocation`) as its `stock_total`; `shards: 1` is exactly
    /// the unsharded layout (no `shards`/`shard` fields).
    public static func commands(for campaign: Campaign, alreadyIssued: Int64) -> [(keys: [RedisArgument], args: [RedisArgument])] {
        let count = max(1, campaign.shards)
        let split = CampaignShards.allocation(total: campaign.stockTotal, issued: alreadyIssued, count: count)
        let settings = metaFields(campaign)
        return (Array(1..<count) + [0]).map { shard in
            let keys = CampaignKeys(campaignId: campaign.id, shard: shard, count: count)
            var args: [RedisArgument] = [.int(split[shard].total), .int(split[shard].issued)]
            var fields = settings
            if count > 1 { fields += [(CampaignMeta.shards, String(count)), (CampaignMeta.shard, String(shard))] }
            for (field, value) in fields {
                args.append(.string(field))
                args.append(.string(value))
            }
            return ([.string(keys.meta), .string(keys.stock), .string(keys.grants)], args)
        }
    }

    /// `SADD` of the campaign into the registry (and, when sharded, into `CampaignShards.registry`).
    static func registerCommands(_ campaign: Campaign) -> [[RedisArgument]] {
        var commands: [[RedisArgument]] = [["SADD", .string(CampaignKeys.registry), .string(String(campaign.id))]]
        if campaign.shards > 1 { commands.append(["SADD", .string(CampaignShards.registry), .string(String(campaign.id))]) }
        return commands
    }

    static func metaFields(_ campaign: Campaign) -> [(String, String)] {
        var fields: [(String, String)] = [
            (CampaignMeta.state, campaign.state.rawValue),
            (CampaignMeta.start, String(campaign.claimStartMs)),
            (CampaignMeta.end, String(campaign.claimEndMs)),
            (CampaignMeta.limit, String(campaign.perUserLimit)),
            (CampaignMeta.template, String(campaign.templateId)),
            (CampaignMeta.tags, campaign.eligibility.requiredTags.joined(separator: ",")),
            (CampaignMeta.userDailyLimit, campaign.periodCaps?.userDailyLimit.map { String($0) } ?? ""),
            (CampaignMeta.userWeeklyLimit, campaign.periodCaps?.userWeeklyLimit.map { String($0) } ?? ""),
            (CampaignMeta.dailyStock, campaign.periodCaps?.dailyStock.map { String($0) } ?? ""),
        ]
        switch campaign.validity {
        case .fixed(let fromMs, let untilMs):
            fields += [
                (CampaignMeta.validityType, "fixed"), (CampaignMeta.validFrom, String(fromMs)), (CampaignMeta.validUntil, String(untilMs)),
                (CampaignMeta.validDays, "0"),
            ]
        case .relative(let days):
            fields += [
                (CampaignMeta.validityType, "relative"), (CampaignMeta.validFrom, "0"), (CampaignMeta.validUntil, "0"),
                (CampaignMeta.validDays, String(days)),
            ]
        }
        return fields
    }

    /// Publishes with a blocking connection (admin paths and node start run on worker threads).
    public static func publish(_ campaign: Campaign, alreadyIssued: Int64, on redis: BlockingRedisConnection) throws {
        if let schedule = PeriodSchedule.command(for: campaign) {  // before the meta that makes claims read it
            _ = try redis.evalScript(PeriodSchedule.script, keys: schedule.keys, args: schedule.args)
        }
        for (keys, args) in commands(for: campaign, alreadyIssued: alreadyIssued) {
            _ = try redis.evalScript(script, keys: keys, args: args)
        }
        for command in registerCommands(campaign) { _ = try redis.command(command) }
    }

    /// Publishes many campaigns in pipelines of `chunk` (the node's periodic sync): one round
    /// trip per chunk to see which ones Redis has never seen, one to publish them all.
    /// `alreadyIssued` is asked only for those Redis does not know.
    public static func publishAll(
        _ campaigns: [Campaign], on redis: BlockingRedisConnection, chunk: Int = 500,
        alreadyIssued: (Int64) throws -> Int64
    ) throws {
        for start in stride(from: 0, to: campaigns.count, by: chunk) {
            let batch = campaigns[start..<min(start + chunk, campaigns.count)]
            let known = try redis.pipeline(batch.map { ["HEXISTS", .string(CampaignKeys(campaignId: $0.id).meta), .string(CampaignMeta.stockTotal)] })
            var commands: [[RedisArgument]] = [script.loadCommand, PeriodSchedule.script.loadCommand]  // SCRIPT FLUSH cannot break the batch
            for (campaign, exists) in zip(batch, known) {
                let issued = try exists.get().int == 1 ? 0 : alreadyIssued(campaign.id)
                if let schedule = PeriodSchedule.command(for: campaign) {
                    commands.append(PeriodSchedule.script.evalshaCommand(keys: schedule.keys, args: schedule.args))
                }
                for (keys, args) in self.commands(for: campaign, alreadyIssued: issued) {
                    commands.append(script.evalshaCommand(keys: keys, args: args))
                }
                commands += registerCommands(campaign)
            }
            for result in try redis.pipeline(commands) { _ = try result.get() }
        }
    }

    static let source = #"""
        local meta, stock, grants = KEYS[1], KEYS[2], KEYS[3]
        local total, issued = tonumber(ARGV[1]), tonumber(ARGV[2])
        local known = redis.call('HGET', meta, '\#(CampaignMeta.stockTotal)')
        if not known then
          redis.call('SET', stock, total - issued)
          redis.call('HSET', meta, '\#(CampaignMeta.stockTotal)', total, '\#(CampaignMeta.issued)', issued)
        else
          local delta = total - tonumber(known)
          if delta ~= 0 then
            redis.call('INCRBY', stock, delta)
            redis.call('HSET', meta, '\#(CampaignMeta.stockTotal)', total)
          end
        end
        for i = 3, #ARGV, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
        redis.pcall('XGROUP', 'CREATE', grants, '\#(CampaignKeys.flusherGroup)', '0', 'MKSTREAM')
        return redis.call('GET', stock)
        """#
}
