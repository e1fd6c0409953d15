import Foundation

/// UTC timestamps written and read without Foundation's date formatters, which build an ICU
/// formatter on every use: a profile of 2,000 items (Benchmarks/results, scenario B) spent about a
/// quarter of the runner's CPU creating them for `Last-Modified` headers, listing dates and the
/// `finishedAt` of output records.
public enum Timestamp {
    /// `2026-11-30T02:00:04Z`: ISO 8601 / RFC 3339 in UTC, whole seconds (truncated).
    public static func iso8601(_ date: Date) -> String {
        let f = fields(date)
        var out = [UInt8]()
        out.reserveCapacity(20)
        append(&out, f.year, 4); out.append(UInt8(ascii: "-"))
        append(&out, f.month, 2); out.append(UInt8(ascii: "-"))
        append(&out, f.day, 2); out.append(UInt8(ascii: "T"))
        append(&out, f.hour, 2); out.append(UInt8(ascii: ":"))
        append(&out, f.minute, 2); out.append(UInt8(ascii: ":"))
        append(&out, f.second, 2); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `20261130T020004Z`: the basic ISO 8601 form SigV4 and run ids use.
    public static func compact(_ date: Date) -> String {
        let f = fields(date)
        var out = [UInt8]()
        out.reserveCapacity(16)
        append(&out, f.year, 4); append(&out, f.month, 2); append(&out, f.day, 2)
        out.append(UInt8(ascii: "T"))
        append(&out, f.hour, 2); append(&out, f.minute, 2); append(&out, f.second, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `20261130T020004Z`, exactly (the inverse of `compact`: SigV4's `X-Amz-Date`, the dates in
    /// AWS's signature-expired messages); nil for anything else.
    public static func parseCompact(_ text: String) -> Date? {
        let s = Array(text.utf8)
        guard s.count == 16, s[8] == UInt8(ascii: "T"), s[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? { decimal(s, at: from, count: count) }
        guard let year = number(0, 4), let month = number(4, 2), let day = number(6, 2), let hour = number(9, 2),
              let minute = number(11, 2), let second = number(13, 2),
              let seconds = checkedEpochSeconds(year: year, month: month, day: day, hour: hour, minute: minute,
                                                second: second) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds))
    }

    /// An ISO 8601 timestamp as AWS services write them (`2026-11-30T02:00:04.000Z`, with or
    /// without a fraction, `Z` or an offset).
    public static func parseISO8601(_ text: String) -> Date? { ISO8601Timestamp.parse(text) }

    /// An HTTP date (RFC 9110 §5.6.7). The preferred IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
    /// which every AWS service sends, is read directly; the two obsolete forms (RFC 850 and
    /// asctime), which recipients must still accept, go through a formatter.
    public static func parseHTTPDate(_ text: String) -> Date? {
        if let date = parseIMFFixdate(Array(text.utf8)) { return date }
        return parseObsoleteHTTPDate(text)
    }

    /// The unsigned decimal number in `s[at ..< at + count]`, all digits; nil otherwise (or when
    /// `s` is shorter).
    static func decimal(_ s: [UInt8], at start: Int, count: Int) -> Int? {
        guard start >= 0, count > 0, start + count <= s.count else { return nil }
        var value = 0
        for k in start..<(start + count) {
            guard s[k] >= 48, s[k] <= 57 else { return nil }
            value = value * 10 + Int(s[k] - 48)
        }
        return value
    }

    /// `epochSeconds` of a time whose fields are in range (month 1–12, day 1–31, hour ≤ 23,
    /// minute ≤ 59, second ≤ 60 for a leap second); nil otherwise.
    static func checkedEpochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
              (0...60).contains(second) else { return nil }
        return epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Seconds since 1970 of a UTC civil time (Howard Hinnant's days-from-civil).
    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }

    private struct Fields { var year, month, day, hour, minute, second: Int }

    /// The UTC civil fields of a date (civil-from-days), seconds rounded toward the past.
    private static func fields(_ date: Date) -> Fields {
        let total = Int(date.timeIntervalSince1970.rounded(.down))
        var days = total / 86_400
        var rest = total % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return Fields(year: year, month: month, day: day, hour: rest / 3600, minute: rest % 3600 / 60, second: rest % 60)
    }

    private static func append(_ out: inout [UInt8], _ value: Int, _ width: Int) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var v = value
        var i = width - 1
        while i >= 0 {
            digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        }
        out.append(contentsOf: digits)
    }

    private static let months: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                            "Nov", "Dec"].map { Array($0.utf8) }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`, exactly.
    private static func parseIMFFixdate(_ s: [UInt8]) -> Date? {
        guard s.count == 29, s[3] == UInt8(ascii: ","), s[4] == 32, s[7] == 32, s[11] == 32, s[16] == 32,
              s[19] == UInt8(ascii: ":"), s[22] == UInt8(ascii: ":"), s[25] == 32,
              s[26] == UInt8(ascii: "G"), s[27] == UInt8(ascii: "M"), s[28] == UInt8(ascii: "T") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? { decimal(s, at: from, count: count) }
        guard let day = number(5, 2), let year = number(12, 4), let hour = number(17, 2), let minute = number(20, 2),
              let second = number(23, 2),
              let monthIndex = months.firstIndex(where: { $0[0] == s[8] && $0[1] == s[9] && $0[2] == s[10] }),
              let seconds = checkedEpochSeconds(year: year, month: monthIndex + 1, day: day, hour: hour,
                                                minute: minute, second: second) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds))
    }

    private static func parseObsoleteHTTPDate(_ text: String) -> Date? {
        for format in ["EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            formatter.isLenient = false
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
