import Foundation

/// Latencies in bounded memory: a log-linear histogram laid out as HdrHistogram lays out one with
/// two significant digits, over whole milliseconds from 1 ms to 1 hour.
///
/// Values below 256 ms are counted exactly (one bucket per millisecond); above, each power of two
/// is split into 128 equal buckets, so a bucket is never wider than 1/128 (0.78%) of its lowest
/// value. A percentile is reported as the middle of its bucket (clamped to the smallest and largest
/// values seen, which are kept exactly), so it is within 0.4% of the exact nearest-rank percentile.
/// Values under 1 ms count as 0 ms; values over an hour count in the last bucket (the maximum is
/// still kept exactly). 2,048 counters, 16 KiB, whatever the number of values.
public struct LatencyHistogram: Sendable, Equatable, CustomStringConvertible {
    /// The largest value with its own bucket: one hour in milliseconds.
    public static let highestTrackable: Int64 = 3_600_000

    static let subBucketHalfCountMagnitude = 7
    static let subBucketHalfCount = 1 << subBucketHalfCountMagnitude  // 128
    static let subBucketCount = subBucketHalfCount * 2  // 256
    static let subBucketMask = Int64(subBucketCount - 1)
    static let leadingZeroCountBase = 64 - subBucketHalfCountMagnitude - 1
    /// Enough buckets for `highestTrackable`.
    static let bucketCount: Int = {
        var smallestUntrackable = Int64(subBucketCount)
        var buckets = 1
        while smallestUntrackable <= highestTrackable {
            smallestUntrackable <<= 1
            buckets += 1
        }
        return buckets
    }()
    static let countsLength = (bucketCount + 1) * subBucketHalfCount

    private var counts: [Int64]
    public private(set) var count: Int64 = 0
    /// The sum of the recorded values (after rounding to whole milliseconds), for the mean.
    public private(set) var sum: Int64 = 0
    public private(set) var min: Int64 = .max
    public private(set) var max: Int64 = 0

    public init() {
        counts = Array(repeating: 0, count: Self.countsLength)
    }

    public var isEmpty: Bool { count == 0 }

    /// Records one latency in milliseconds.
    public mutating func record(milliseconds: Double, count n: Int64 = 1) {
        guard milliseconds.isFinite else { return }
        let value = milliseconds <= 0 ? 0 : Int64(Swift.min(milliseconds.rounded(), 9.0e15))
        record(value, count: n)
    }

    public mutating func record(_ value: Int64, count n: Int64 = 1) {
        guard n > 0 else { return }
        let value = Swift.max(0, value)
        counts[Self.index(of: Swift.min(value, Self.highestTrackable))] += n
        count += n
        sum = sum &+ value &* n
        if value < min { min = value }
        if value > max { max = value }
    }

    /// Adds another histogram's counts (exact: the layouts are the same).
    public mutating func merge(_ other: LatencyHistogram) {
        guard !other.isEmpty else { return }
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] += other.counts[i] }
        count += other.count
        sum = sum &+ other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The nearest-rank percentile (`p` in 0...100): the value at rank ⌈p/100 × count⌉, to the
    /// histogram's precision; nil when nothing was recorded.
    public func percentile(_ p: Double) -> Int64? {
        guard count > 0 else { return nil }
        let rank = Swift.max(1, Int64((Swift.min(Swift.max(p, 0), 100) / 100 * Double(count)).rounded(.up)))
        if rank >= count { return max }  // the largest value is kept exactly
        var seen: Int64 = 0
        for i in 0..<counts.count where counts[i] != 0 {
            seen += counts[i]
            if seen >= rank {
                let (low, width) = Self.range(ofIndex: i)
                let middle = low + (width - 1) / 2
                return Swift.min(Swift.max(middle, min), max)
            }
        }
        return max
    }

    public var description: String {
        isEmpty ? "LatencyHistogram(empty)"
            : "LatencyHistogram(count: \(count), min: \(min), max: \(max), sum: \(sum), buckets: \(buckets.map { "\($0.value)x\($0.count)" }.joined(separator: " ")))"
    }

    public var mean: Double? { count == 0 ? nil : Double(sum) / Double(count) }

    /// The non-empty buckets as (lowest value of the bucket, count), in value order: what a report
    /// carries so that shard reports merge exactly.
    public var buckets: [(value: Int64, count: Int64)] {
        var out: [(value: Int64, count: Int64)] = []
        for i in 0..<counts.count where counts[i] != 0 { out.append((Self.range(ofIndex: i).low, counts[i])) }
        return out
    }

    /// A histogram rebuilt from ``buckets`` (and the exact extremes and sum, when known).
    public init(buckets: [(value: Int64, count: Int64)], min: Int64? = nil, max: Int64? = nil, sum: Int64? = nil) {
        self.init()
        for bucket in buckets { record(bucket.value, count: bucket.count) }
        guard count > 0 else { return }
        if let min, min <= self.max { self.min = Swift.max(0, min) }
        if let max, max >= self.min { self.max = max }
        if let sum { self.sum = sum }
    }

    // MARK: Layout (HdrHistogram's, unit 1, two significant digits)

    static func index(of value: Int64) -> Int {
        let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
        let subBucket = Int(value >> Int64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
    }

    /// The lowest value counted at `index` and how many values share the bucket.
    static func range(ofIndex index: Int) -> (low: Int64, width: Int64) {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            subBucket -= subBucketHalfCount
            bucket = 0
        }
        return (Int64(subBucket) << Int64(bucket), Int64(1) << Int64(bucket))
    }
}
