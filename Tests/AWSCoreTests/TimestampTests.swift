import Foundation
import Testing
@testable import AWSCore

/// The hand-written timestamps agree with Foundation's formatters, which they replace on hot paths.
@Suite struct TimestampTests {
    /// Dates around the edges: the epoch, before it, leap days, centuries, the end of a year.
    static let dates: [Date] = [0, -1, 951_782_400, 951_868_799, 4_107_542_399, 1_796_004_004, 1_796_004_004.999,
                                -2_208_988_800, 253_402_300_799, 1_709_164_800].map(Date.init(timeIntervalSince1970:))

    func foundation(_ format: String, _ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter.string(from: date)
    }

    @Test(arguments: dates) func formatsAsFoundationDoes(_ date: Date) {
        #expect(Timestamp.iso8601(date) == foundation("yyyy-MM-dd'T'HH:mm:ss'Z'", date))
        #expect(Timestamp.compact(date) == foundation("yyyyMMdd'T'HHmmss'Z'", date))
    }

    @Test(arguments: dates) func readsTheCompactFormBack(_ date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        #expect(Timestamp.parseCompact(foundation("yyyyMMdd'T'HHmmss'Z'", date)) == whole)
    }

    @Test func refusesWhatIsNotTheCompactForm() {
        for bad in ["", "20261130T020004", "20261130 020004Z", "2026-11-30T02:00:04Z", "20261330T020004Z",
                    "20261130T250004Z", "20261130T02000aZ", "20261130T0200040Z"] {
            #expect(Timestamp.parseCompact(bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: dates) func parsesHTTPDatesAndISO8601(_ date: Date) {
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        #expect(Timestamp.parseHTTPDate(foundation("EEE, dd MMM yyyy HH:mm:ss 'GMT'", date)) == whole)
        #expect(Timestamp.parseISO8601(foundation("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", date))?.timeIntervalSince1970
            .rounded(.down) == whole.timeIntervalSince1970)
        #expect(Timestamp.parseISO8601(Timestamp.iso8601(date)) == whole)
    }

    @Test func httpDatesInEveryFormTheRFCAccepts() {
        let expected = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(Timestamp.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == expected)
        #expect(Timestamp.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == expected)
        #expect(Timestamp.parseHTTPDate("Sun Nov  6 08:49:37 1994") == expected)
        for bad in ["", "Sun, 36 Nov 1994 08:49:37 GMT", "Sun, 06 Nox 1994 08:49:37 GMT",
                    "Sun, 06 Nov 1994 25:49:37 GMT", "yesterday"] {
            #expect(Timestamp.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }
}
