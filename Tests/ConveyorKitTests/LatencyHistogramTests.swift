import AWSCore
import Foundation
@testable import ConveyorKit
import Testing


@Suite("Latency histogram")
struct LatencyHistogramTests {
    /// The exact nearest-rank percentile of sorted values.
    static func exact(_ sorted: [Int64], _ p: Double) -> Int64 {
        let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }

    static func check(_ values: [Int64], percentiles: [Double] = [1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100]) {
        var h = LatencyHistogram()
        for v in values { h.record(v) }
        let sorted = values.sorted()
        for p in percentiles {
            let want = exact(sorted, p)
            let got = h.percentile(p)!
            let error = abs(Double(got - want)) / Double(max(1, want))
            #expect(error <= 0.01, "p\(p): \(got) against exact \(want) (\(error * 100)% off)")
        }
    }

    @Test func logUniformDataWithinOnePercent() {
        var rng = SplitMix64(seed: 42)
        let values = (0..<100_000).map { _ in Int64(exp(Double.random(in: 0...log(3_600_000.0), using: &rng)).rounded()) }
        Self.check(values)
    }

    @Test func typicalModelLatenciesWithinOnePercent() {
        // a long tail: mostly 1-5 s, some throttled retries up to minutes
        var rng = SplitMix64(seed: 7)
        let values: [Int64] = (0..<50_000).map { _ in
            let base = Double.random(in: 800...5000, using: &rng)
            let tail = Double.random(in: 0...1, using: &rng) < 0.03 ? Double.random(in: 10_000...180_000, using: &rng) : 0
            return Int64(base + tail)
        }
        Self.check(values, percentiles: Array(stride(from: 1.0, through: 100, by: 1)))
    }

    @Test func smallValuesAreExact() {
        var h = LatencyHistogram()
        for v in 0...255 { h.record(Int64(v)) }
        #expect(h.percentile(50) == 127)
        #expect(h.percentile(100) == 255)
        #expect(h.percentile(0) == 0)
        #expect(h.min == 0 && h.max == 255)
    }

    @Test func fewSamples() {
        var h = LatencyHistogram()
        #expect(h.percentile(50) == nil)
        h.record(milliseconds: 2310.4)
        #expect(h.percentile(50) == 2310)  // clamped to the exact min and max
        #expect(h.percentile(99) == 2310)
        h.record(milliseconds: 0.3)  // under 1 ms counts as 0
        h.record(milliseconds: .nan)  // ignored
        #expect(h.count == 2)
        #expect(h.percentile(50) == 0)
    }

    @Test func valuesBeyondAnHourKeepTheirMaximum() {
        var h = LatencyHistogram()
        h.record(milliseconds: 7_200_000)
        h.record(5)
        #expect(h.max == 7_200_000)
        #expect(h.percentile(100) == 7_200_000)
        #expect(h.percentile(50) == 5)
    }

    @Test func boundedLayout() {
        #expect(LatencyHistogram.countsLength == 2048)
        // every value up to an hour has its own bucket of width at most 1/128 of its value
        var value: Int64 = 1
        while value <= LatencyHistogram.highestTrackable {
            let index = LatencyHistogram.index(of: value)
            #expect(index < LatencyHistogram.countsLength)
            let (low, width) = LatencyHistogram.range(ofIndex: index)
            #expect(low <= value && value < low + width)
            #expect(Double(width) <= max(1, Double(low) / 128))
            value = value * 3 / 2 + 1
        }
    }

    @Test func mergeIsExact() {
        var rng = SplitMix64(seed: 99)
        var a = LatencyHistogram(), b = LatencyHistogram(), all = LatencyHistogram()
        for i in 0..<20_000 {
            let v = Int64.random(in: 1...600_000, using: &rng)
            if i % 3 == 0 { a.record(v) } else { b.record(v) }
            all.record(v)
        }
        var merged = a
        merged.merge(b)
        #expect(merged == all)
        // rebuilt from its non-empty buckets, as a report carries it
        let rebuilt = LatencyHistogram(buckets: all.buckets, min: all.min, max: all.max, sum: all.sum)
        for p in [50.0, 90, 99] { #expect(rebuilt.percentile(p) == all.percentile(p)) }
        #expect(rebuilt.count == all.count && rebuilt.sum == all.sum)
    }
}
