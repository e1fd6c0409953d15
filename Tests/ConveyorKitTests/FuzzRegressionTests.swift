import Foundation
import Testing
@testable import ConveyorKit

/// Faults found by the libFuzzer harnesses (Fuzz/, docs/fuzzing.md) or while writing them, each
/// with its input: once a crash, a value accepted that no job means, or a reading that depended
/// on chunking.
@Suite struct FuzzRegressionTests {
    /// Found writing fuzz-job: `Int64(seconds * 1000)` trapped on a duration past Int64 milliseconds.
    @Test(arguments: ["1e300s", "1e20", "inf", "infinity", "1e999ms", "99999999999999999999h", "1e16s"])
    func durationsTooLargeAreNotDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func theLargestDurationsStillParse() {
        #expect(DurationText.parse("1000000h") == .seconds(3_600_000_000))
        #expect(DurationText.parse("0.0001s") == .zero)
    }

    @Test func aHugeTimeoutIsALocatedError() {
        let found = errors(replacing("  connectTimeout:", with: "  connectTimeout: 1e300s"))
            .map { "\($0.location!.line):\($0.location!.column): \($0.message)" }
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("31:19: limits.connectTimeout '1e300s' is not a duration") == true, "\(found)")
    }

    /// Double() reads nan and inf; a limit of nan passed every bound check (all comparisons false).
    @Test(arguments: [
        ("  temperature:", "  temperature: nan", "8:16: model.temperature must be a number, found 'nan'"),
        ("  requestsPerMinute:", "  requestsPerMinute: NaN", "28:22: limits.requestsPerMinute must be a number, found 'NaN'"),
        ("  budgetUSD:", "  budgetUSD: inf", "34:14: limits.budgetUSD must be a number, found 'inf'"),
        ("  tokensPerMinute:", "  tokensPerMinute: 1e999", "29:20: limits.tokensPerMinute must be a number, found '1e999'"),
    ])
    func nonFiniteNumbersAreRefused(prefix: String, replacement: String, expected: String) {
        let found = errors(replacing(prefix, with: replacement))
            .map { "\($0.location!.line):\($0.location!.column): \($0.message)" }
        #expect(found == [expected])
    }

    /// fuzz-json: a blank line (here 100 CRs) longer than the line limit was skipped when the
    /// object came in one chunk and InputTooLarge when it came in small ones, so the items of a
    /// jsonl input depended on where GetObject's chunks happened to end.
    @Test func aLongBlankLineReadsTheSameInAnyChunks() {
        let data = Data(("{\"id\": 1}\n" + String(repeating: "\r", count: 100) + "\n\n{\"id\": 2}\n").utf8)
        let whole = JSONLReader.read(data, maxLineBytes: 64)
        for chunkSize in [1, 5, 64] {
            var reader = JSONLReader(maxLineBytes: 64)
            var entries: [JSONLReader.Entry] = []
            for start in stride(from: 0, to: data.count, by: chunkSize) {
                entries += reader.feed(data.subdata(in: start..<min(start + chunkSize, data.count)))
            }
            entries += reader.finish()
            #expect(entries == whole, "chunks of \(chunkSize)")
        }
        #expect(whole.count == 3)
        #expect(whole.compactMap { try? $0.get().line } == [1, 4])
        if case .failure(let error) = whole[1] {
            #expect(error.line == 2)
            #expect(error.problem == .inputTooLarge("the line is longer than the limit of 64 bytes"))
        } else {
            Issue.record("line 2 should be InputTooLarge: \(whole)")
        }
    }
}
