import CouponCore

/// The report's wire forms. Fixed field order, integers for money (minor units) and a
/// currency per campaign, so the same figures always give the same bytes.
extension ReconciliationReport {
    public static let csvColumns = [
        "campaign_id", "currency", "date", "issued", "redeemed", "restored", "expired", "revoked", "discount",
        "discount_restored", "opening_liability", "closing_liability",
    ]

    /// Added after `csvColumns` when the report has points (issue 11): campaign rows leave them
    /// empty; a `points` row per day (campaign_id and currency `points`) fills them and the two
    /// liability columns (outstanding points), leaving the coupon columns empty.
    public static let pointsCSVColumns = ["points_earned", "points_spent", "points_refunded", "points_expired", "points_adjusted"]

    static func pointsValues(_ day: PointsDay) -> [Int64] { [day.earned, day.spent, day.refunded, day.expired, day.adjusted] }

    static func values(_ day: DayFigures) -> [Int64] {
        [day.issued, day.redeemed, day.restored, day.expired, day.revoked, day.discount, day.discountRestored, day.openingLiability, day.closingLiability]
    }

    // MARK: JSON

    public func json() -> [UInt8] {
        JSONWriter.object { report in
            period.writeHead("reconciliation", into: &report)
            if let id = period.campaignId { report.field("campaign_id", id) } else { report.nullField("campaign_id") }
            report.objectField("period") { section in
                section.arrayField("campaigns") { list in
                    for campaign in campaigns {
                        list.objectElement { item in
                            item.field("campaign_id", campaign.campaignId)
                            item.field("currency", campaign.currency)
                            item.arrayField("days") { days in
                                for day in campaign.days { days.objectElement { Self.write(day, into: &$0) } }
                            }
                            item.objectField("totals") { Self.write(campaign.totals, into: &$0) }
                            item.arrayField("by_channel") { list in
                                for figures in channels[campaign.campaignId] ?? [] { list.objectElement { figures.write(into: &$0) } }
                            }
                        }
                    }
                }
                if !points.isEmpty {
                    section.arrayField("points") { list in
                        for day in points { list.objectElement { Self.write(day, into: &$0) } }
                    }
                }
            }
            guard let checks, let checkedAt else { return }
            report.objectField("checks") { section in
                section.field("as_of", checkedAt)
                section.field("passed", passed)
                section.arrayField("campaigns") { list in
                    for campaign in checks {
                        list.objectElement { item in
                            item.field("campaign_id", campaign.campaignId)
                            item.field("passed", campaign.passed)
                            for check in campaign.checks { item.objectField(check.name) { Self.write(check, into: &$0) } }
                        }
                    }
                }
                if let pointsCheck { section.objectField(pointsCheck.name) { Self.write(pointsCheck, into: &$0) } }
            }
        }
    }

    static func write(_ day: PointsDay, into object: inout JSONObjectWriter) {
        object.field("date", day.date)
        for (name, value) in zip(pointsCSVColumns, pointsValues(day)) { object.field(String(name.dropFirst("points_".count)), value) }
        object.field("opening_liability", day.openingLiability)
        object.field("closing_liability", day.closingLiability)
    }

    static func write(_ day: DayFigures, into object: inout JSONObjectWriter) {
        if !day.date.isEmpty { object.field("date", day.date) }
        object.field("issued", day.issued)
        object.field("redeemed", day.redeemed)
        object.field("restored", day.restored)
        object.field("expired", day.expired)
        object.field("revoked", day.revoked)
        object.field("discount", day.discount)
        object.field("discount_restored", day.discountRestored)
        object.field("opening_liability", day.openingLiability)
        object.field("closing_liability", day.closingLiability)
    }

    static func write(_ check: CheckResult, into object: inout JSONObjectWriter) {
        object.field("passed", check.passed)
        object.objectField("figures") { figures in
            for (name, value) in check.figures {
                if let value { figures.field(name, value) } else { figures.nullField(name) }
            }
        }
        object.arrayField("offenders") { list in
            for offender in check.offenders {
                list.objectElement { item in
                    item.field("code", offender.code)
                    item.field("stream_id", offender.streamId)
                    item.field("issue", offender.issue)
                }
            }
        }
        if let note = check.note { object.field("note", note) } else { object.nullField("note") }
    }

    // MARK: CSV (RFC 4180)

    /// The period section, one row per campaign and day, CRLF line ends, one header row.
    public func csv() -> String {
        let extra = points.isEmpty ? [] : Self.pointsCSVColumns
        var lines = [(Self.csvColumns + extra).map(CSV.field).joined(separator: ",")]
        for campaign in campaigns {
            for day in campaign.days {
                let cells = [String(campaign.campaignId), campaign.currency, day.date] + Self.values(day).map(String.init) + extra.map { _ in "" }
                lines.append(cells.map(CSV.field).joined(separator: ","))
            }
        }
        for day in points {
            let cells = ["points", "points", day.date] + Array(repeating: "", count: 7) + [String(day.openingLiability), String(day.closingLiability)]
                + Self.pointsValues(day).map(String.init)
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    public static let channelCSVColumns = ["campaign_id", "currency", "channel", "issued", "redeemed", "redemption_rate", "discount", "order_revenue", "roi"]

    /// The period's figures by campaign and channel (issue 12), one row each, CRLF line ends.
    public func channelCSV() -> String {
        var lines = [Self.channelCSVColumns.map(CSV.field).joined(separator: ",")]
        for campaign in campaigns {
            for figures in channels[campaign.campaignId] ?? [] {
                let cells = [
                    String(campaign.campaignId), campaign.currency, figures.channel, String(figures.issued), String(figures.redeemed),
                    figures.redemptionRate ?? "", String(figures.discount), String(figures.orderRevenue), figures.roi ?? "",
                ]
                lines.append(cells.map(CSV.field).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: Table (terminal)

    public func table() -> String {
        var out = "reconciliation \(period.from) .. \(period.to) (\(period.timeZone))\n"
        let header = ["campaign", "cur", "date", "issued", "redeemed", "restored", "expired", "revoked", "discount", "disc_rest", "open_liab", "close_liab"]
        var rows = [header]
        for campaign in campaigns {
            for day in campaign.days {
                rows.append([String(campaign.campaignId), campaign.currency, day.date] + Self.values(day).map(String.init))
            }
            rows.append([String(campaign.campaignId), campaign.currency, "total"] + Self.values(campaign.totals).map(String.init))
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            out += row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < 3 ? cell + pad : pad + cell
            }.joined(separator: "  ") + "\n"
        }
        if !points.isEmpty {
            out += "\npoints  date        earned  spent  refunded  expired  adjusted  open_liab  close_liab\n"
            for day in points {
                out += "points  \(day.date)  " + (Self.pointsValues(day) + [day.openingLiability, day.closingLiability]).map(String.init).joined(separator: "  ") + "\n"
            }
        }
        if !channels.isEmpty {
            out += "\nby channel\n"
            for campaign in campaigns {
                for f in channels[campaign.campaignId] ?? [] {
                    out += "  campaign \(campaign.campaignId) \(f.channel): issued=\(f.issued) redeemed=\(f.redeemed) rate=\(f.redemptionRate ?? "-") discount=\(f.discount) revenue=\(f.orderRevenue) roi=\(f.roi ?? "-")\n"
                }
            }
        }
        if let checks, let checkedAt {
            out += "\nchecks as of \(checkedAt): \(passed ? "PASS" : "FAIL")\n"
            for campaign in checks {
                for check in campaign.checks {
                    let figures = check.figures.map { "\($0.name)=\($0.value.map(String.init) ?? "null")" }.joined(separator: " ")
                    out += "  campaign \(campaign.campaignId) \(check.name): \(check.passed ? "pass" : "FAIL")  \(figures)\n"
                    for offender in check.offenders {
                        out += "    \(offender.issue) code=\(offender.code) stream_id=\(offender.streamId)\n"
                    }
                    if let note = check.note { out += "    note: \(note)\n" }
                }
            }
            if let check = pointsCheck {
                let figures = check.figures.map { "\($0.name)=\($0.value.map(String.init) ?? "null")" }.joined(separator: " ")
                out += "  points \(check.name): \(check.passed ? "pass" : "FAIL")  \(figures)\n"
                for offender in check.offenders { out += "    \(offender.issue)\n" }
            }
        }
        return out
    }
}

/// RFC 4180 fields: quoted when they hold a comma, quote, CR or LF; quotes doubled.
public enum CSV {
    public static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return value }
        var quoted = "\""
        for character in value {
            if character == "\"" { quoted += "\"" }
            quoted.append(character)
        }
        return quoted + "\""
    }
}
