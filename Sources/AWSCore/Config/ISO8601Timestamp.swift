import Foundation

/// Parses the ISO-8601 timestamps AWS credential sources write (`Expiration`,
/// `AWS_CREDENTIAL_EXPIRATION`): `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z`, `±HH:MM`,
/// `±HHMM` or `±HH`. `t` or a space may stand for `T`; no zone means UTC.
enum ISO8601Timestamp {
    static func parse(_ text: String) -> Date? {
        let s = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard let value = Timestamp.decimal(s, at: i, count: count) else { return nil }
            i += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < s.count, s[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
              let day = digits(2) else { return nil }
        guard i < s.count, [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(s[i]) else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2), expect(UInt8(ascii: ":")),
              let second = digits(2) else { return nil }
        var fraction = 0.0
        if i < s.count, s[i] == UInt8(ascii: ".") || s[i] == UInt8(ascii: ",") {
            i += 1
            var scale = 0.1
            let start = i
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                fraction += Double(s[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset = 0
        if i < s.count {
            if s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "z") {
                i += 1
            } else if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
                let sign = s[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let hours = digits(2) else { return nil }
                var minutes = 0
                if i < s.count {
                    _ = expect(UInt8(ascii: ":"))
                    guard let m = digits(2) else { return nil }
                    minutes = m
                }
                guard hours <= 23, minutes <= 59 else { return nil }
                offset = sign * (hours * 3600 + minutes * 60)
            }
        }
        guard i == s.count else { return nil }
        guard let civil = Timestamp.checkedEpochSeconds(year: year, month: month, day: day, hour: hour,
                                                        minute: minute, second: second) else { return nil }
        return Date(timeIntervalSince1970: Double(civil - offset) + fraction)
    }
}
