import CouponCore
import Foundation
import RedisClient

/// Publishes a capped campaign's period boundaries (`PeriodCalendar`) to `cp:{c:ID}:pdays`, where
/// the claim script picks the one in force at Redis `TIME` (`PeriodCapsRules`). Written with the
/// campaign's meta (create, changes, node start, the periodic sync every 30 s), covering the day
/// before now through `days` days ahead, then the member `end`: a schedule no node renewed for
/// two weeks makes claims fail loudly instead of counting in the wrong day.
public enum PeriodSchedule {
    public static let days = 14
    public static let script = RedisScript(source)

    /// The `EVALSHA` that replaces the schedule of `campaign`, or nil when it has no caps.
    public static func command(for campaign: Campaign, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> (keys: [RedisArgument], args: [RedisArgument])? {
        guard let caps = campaign.periodCaps, let zone = caps.zone else { return nil }
        let release = caps.dailyStock == nil ? 0 : caps.dailyReleaseMinute
        let (boundaries, endMs) = PeriodCalendar.boundaries(fromMs: nowMs, days: days, releaseMinute: release, in: zone)
        var args: [RedisArgument] = [.int(endMs)]
        args.reserveCapacity(1 + boundaries.count * 2)
        for boundary in boundaries { args += [.int(boundary.startMs), .string(boundary.member)] }
        return ([.string(CampaignKeys(campaignId: campaign.id).periodDays)], args)
    }

    static let source = #"""
        local key, finish = KEYS[1], tonumber(ARGV[1])
        redis.call('DEL', key)
        for i = 2, #ARGV, 2 do redis.call('ZADD', key, ARGV[i], ARGV[i + 1]) end
        redis.call('ZADD', key, ARGV[1], '\#(PeriodCalendar.endMember)')
        redis.call('PEXPIREAT', key, finish + 86400000)
        return #ARGV / 2
        """#
}
