import CouponCore
import CouponService
import Foundation
import PostgresClient
import RedisClient
import ServiceTestSupport
import Testing

/// One `coupon_events` row as the test reads it from the raw table.
struct RawEvent {
    let code: String
    let campaignId: Int64
    let event: String
    let atMs: Int64
    let discount: Int64?
    let orderAmount: Int64?
    let faceValue: Int64
}

enum FinanceFixture {
    /// Stands in for the checkout routes (issue 3) where a test needs lifecycle activity at
    /// an explicit time: changes the coupon row and appends the event, in one transaction,
    /// the way the ledger records it. `at` is RFC 3339.
    static func recordCheckoutEventInSQL(
        _ connection: PostgresConnection, code: String, event: String, at: String,
        orderId: String? = nil, orderAmount: Int64? = nil, discount: Int64? = nil
    ) throws {
        let state: String? = switch event {
        case "redeemed": "redeemed"
        case "restored", "released": "issued"
        case "expired": "expired"
        case "revoked": "revoked"
        case "locked": "locked"
        default: nil
        }
        try connection.transaction { tx in
            if let state {
                let keepsOrder = state == "redeemed" || state == "locked"
                try tx.execute(
                    """
                    UPDATE coupons SET state = $2, order_id = $3, order_amount = $4, discount = $5,
                           redeemed_at = CASE WHEN $2 = 'redeemed' THEN $6::timestamptz END
                    WHERE code = $1
                    """, [code, state, keepsOrder ? orderId : nil, keepsOrder ? orderAmount : nil, keepsOrder ? discount : nil, at])
            }
            try tx.execute(
                """
                INSERT INTO coupon_events (code, campaign_id, event, at, order_id, order_amount, discount, face_value)
                SELECT code, campaign_id, $2, $3::timestamptz, $4, $5, $6, face_value FROM coupons WHERE code = $1
                """, [code, event, at, orderId, orderAmount, discount])
        }
    }

    static func rawEvents(_ connection: PostgresConnection) throws -> [RawEvent] {
        try connection.execute(
            """
            SELECT code, campaign_id, event, (extract(epoch FROM at) * 1000)::bigint, discount, order_amount, face_value
            FROM coupon_events ORDER BY at, id
            """
        ).map {
            RawEvent(
                code: try $0.string(0), campaignId: try $0.int64(1), event: try $0.string(2), atMs: try $0.int64(3),
                discount: try $0.optionalInt64(4), orderAmount: try $0.optionalInt64(5), faceValue: try $0.int64(6))
        }
    }

    /// The local calendar date of `ms` in `timeZone`, by Foundation (not PostgreSQL).
    static func localDate(_ ms: Int64, _ timeZone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone)!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func date(offsetDays: Int, from ms: Int64 = Int64(Date().timeIntervalSince1970 * 1000), _ timeZone: String = "UTC") -> String {
        localDate(ms + Int64(offsetDays) * 86_400_000, timeZone)
    }

    /// The report's figures for one campaign and day, counted by replaying the raw events
    /// in Swift: [issued, redeemed, restored, expired, revoked, discount, discount_restored,
    /// opening_liability, closing_liability].
    static func independentDay(_ events: [RawEvent], campaignId: Int64, date: String, timeZone: String) -> [Int64] {
        let mine = events.filter { $0.campaignId == campaignId }
        let inDay = mine.filter { localDate($0.atMs, timeZone) == date }
        func count(_ name: String) -> Int64 { Int64(inDay.filter { $0.event == name }.count) }
        let discount = inDay.filter { $0.event == "redeemed" }.reduce(Int64(0)) { $0 + ($1.discount ?? 0) }
        let restoredDiscount = inDay.filter { $0.event == "restored" }.reduce(Int64(0)) { $0 + ($1.discount ?? 0) }
        func liability(before day: String, inclusive: Bool) -> Int64 {
            var state: [String: (open: Bool, face: Int64)] = [:]
            for event in mine {
                let local = localDate(event.atMs, timeZone)
                guard inclusive ? local <= day : local < day else { continue }
                let face = event.event == "issued" ? event.faceValue : state[event.code]?.face ?? 0
                state[event.code] = (["issued", "locked", "released", "restored"].contains(event.event), face)
            }
            return state.values.filter(\.open).reduce(0) { $0 + $1.face }
        }
        return [
            count("issued"), count("redeemed"), count("restored"), count("expired"), count("revoked"), discount, restoredDiscount,
            liability(before: date, inclusive: false), liability(before: date, inclusive: true),
        ]
    }

    static let dayFields = [
        "issued", "redeemed", "restored", "expired", "revoked", "discount", "discount_restored", "opening_liability",
        "closing_liability",
    ]

    static func getJSON(_ node: TestNode, _ path: String, as role: Role = .finance) throws -> JSONValue {
        let response = try node.request("GET", path, as: role)
        guard response.status == 200 else { throw FixtureError("GET \(path): \(response.status) \(response.bodyString)") }
        return try JSONParser.parse(response.body)
    }

    /// Claims `count` times with fresh users; returns the granted codes in order.
    static func claimAll(_ node: TestNode, campaign: Int64, users: Range<Int>, prefix: String = "u") throws -> [String] {
        try users.compactMap { index in
            let response = try node.claim(campaignId: campaign, userId: "\(prefix)\(index)", requestId: "\(prefix)-r\(index)")
            guard response.status == 201 else { return nil }
            return try JSONParser.parse(response.body)["code"]?.stringValue
        }
    }

    /// Stream id of every entry of the campaign's grant stream, by code (raw XRANGE).
    static func streamIds(_ node: TestNode, campaign: Int64) throws -> [String: String] {
        let reply = try node.redisClient().command(["XRANGE", .string("cp:{c:\(campaign)}:grants"), "-", "+"])
        var ids: [String: String] = [:]
        for entry in reply.array ?? [] {
            guard let pair = entry.array, let id = pair[0].string, let fields = pair[1].array else { continue }
            for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "code" {
                ids[fields[index + 1].string ?? ""] = id
            }
        }
        return ids
    }

    /// Parses CSV bytes with Python's `csv` module; returns the rows.
    static func parseWithPython(_ bytes: [UInt8]) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import csv,io,json,sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.buffer.read().decode('utf-8'), newline=''), strict=True))))",
        ]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FixtureError("python csv failed") }
        return try JSONParser.parse(Array(data)).arrayValue!.map { $0.arrayValue!.map { $0.stringValue! } }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// The object's field `name` as an Int64 (test shorthand).
    func int(_ name: String) -> Int64? { self[name]?.int64Value }
}
