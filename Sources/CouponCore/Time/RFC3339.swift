/// RFC 3339 timestamps ⇄ epoch milliseconds (UTC), without Foundation date formatters.
///
/// Parsing accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)` (`T` and `Z` in either
/// case), years 0000...9999, real calendar dates (leap years checked); fractions beyond
/// milliseconds are truncated. Leap seconds (`:60`), missing offsets, spaces and any other
/// garbage are rejected. Formatting always writes UTC with `Z`, and `.sss` only when the
/// milliseconds are not zero, so `2026-11-23T00:00:00Z` round-trips unchanged.
public enum RFC3339 {
    static let millisecondsPerDay: Int64 = 86_400_000

    /// Epoch milliseconds of `text`, or nil when it is not a valid RFC 3339 date-time.
    public static func parse(_ text: String) -> Int64? {
        var utf8 = text.utf8
        if let result = utf8.withContiguousStorageIfAvailable({ parse(bytes: $0) }) { return result }
        utf8 = text.utf8
        return Array(utf8).withUnsafeBufferPointer { parse(bytes: $0) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var position = 0
        func digits(_ count: Int) -> Int64? {
            guard position + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<count {
                let byte = bytes[position]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
                position += 1
            }
            return value
        }
        func expect(_ characters: UInt8...) -> Bool {
            guard position < bytes.count, characters.contains(bytes[position]) else { return false }
            position += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
            expect(0x54, 0x74),  // T t
            let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var milliseconds: Int64 = 0
        if position < bytes.count, bytes[position] == 0x2E {  // .
            position += 1
            var count = 0
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
                if count < 3 { milliseconds = milliseconds * 10 + Int64(bytes[position] - 0x30) }
                count += 1
                position += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { milliseconds *= 10 }
        }
        var offsetMinutes: Int64 = 0
        guard position < bytes.count else { return nil }
        switch bytes[position] {
        case 0x5A, 0x7A:  // Z z
            position += 1
        case 0x2B, 0x2D:  // + -
            let sign: Int64 = bytes[position] == 0x2D ? -1 : 1
            position += 1
            guard let offsetHour = digits(2), expect(0x3A), let offsetMinute = digits(2),
                offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        default:
            return nil
        }
        guard position == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1000 + milliseconds
    }

    /// `YYYY-MM-DDTHH:MM:SS[.sss]Z` for `epochMs` (years outside 0000...9999 are written
    /// with as many digits as they need, and a leading `-` before year 0).
    public static func format(epochMs: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        append(epochMs: epochMs, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `format(epochMs:)` appended to `out` (no `String`: JSON and other encoders on hot paths).
    public static func append(epochMs: Int64, to out: inout [UInt8]) {
        // Floor division so instants before 1970 land on the right day.
        let (dayQuotient, dayRemainder) = epochMs.quotientAndRemainder(dividingBy: millisecondsPerDay)
        let days = dayRemainder < 0 ? dayQuotient - 1 : dayQuotient
        let msOfDay = dayRemainder < 0 ? dayRemainder + millisecondsPerDay : dayRemainder
        let (year, month, day) = civilFromDays(days)
        func append(_ value: Int64, width: Int) {
            if value < 0 { out.append(0x2D) }
            var magnitude = value.magnitude
            var digits = 1
            var scale: UInt64 = 1
            while magnitude / scale >= 10 {
                scale *= 10
                digits += 1
            }
            for _ in digits..<max(digits, width) { out.append(0x30) }
            while scale > 0 {
                out.append(0x30 + UInt8(magnitude / scale))
                magnitude %= scale
                scale /= 10
            }
        }
        // Fields of a known width by constant divisors (multiplications), not the general loop.
        func twoDigits(_ value: Int64) {
            out.append(0x30 + UInt8(truncatingIfNeeded: value / 10))
            out.append(0x30 + UInt8(truncatingIfNeeded: value % 10))
        }
        if (0...9999).contains(year) {
            twoDigits(year / 100)
            twoDigits(year % 100)
        } else {
            append(year, width: 4)
        }
        out.append(0x2D)
        twoDigits(month)
        out.append(0x2D)
        twoDigits(day)
        out.append(0x54)
        twoDigits(msOfDay / 3_600_000)
        out.append(0x3A)
        twoDigits(msOfDay / 60_000 % 60)
        out.append(0x3A)
        twoDigits(msOfDay / 1000 % 60)
        if msOfDay % 1000 != 0 {
            out.append(0x2E)
            out.append(0x30 + UInt8(truncatingIfNeeded: msOfDay % 1000 / 100))
            twoDigits(msOfDay % 100)
        }
        out.append(0x5A)
    }

    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Inverse of `daysFromCivil`; saturates far outside any real timestamp.
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days.addingReportingOverflow(719_468).partialValue
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
