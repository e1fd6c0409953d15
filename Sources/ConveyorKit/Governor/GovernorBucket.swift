/// A token bucket on the scheduler's clock: `rate` tokens a second, holding at most `capacity`.
///
/// It follows the emulator's `QuotaBuckets` (and Bedrock's quotas as documented): a take is
/// allowed once the bucket holds `min(amount, capacity)`, so a reservation larger than the whole
/// bucket waits for a full bucket and then leaves it in debt (negative) rather than waiting
/// forever. Refunds (`give`) never fill it beyond `capacity`.
public struct GovernorBucket: Sendable, Equatable {
    /// `readyTime` adds this (seconds) to the exact time, so that floating-point refill at that
    /// time is sure to reach the amount, and a bucket mirroring the server's (same rate, same
    /// depth) never admits a hair before the server would.
    static let margin = 1e-6

    public private(set) var rate: Double
    public private(set) var capacity: Double
    public private(set) var level: Double
    public private(set) var updated: Double

    /// - Parameters:
    ///   - rate: tokens per second (> 0).
    ///   - capacity: the most the bucket holds (its burst allowance).
    ///   - level: what it holds at `now`; full when nil.
    public init(rate: Double, capacity: Double, level: Double? = nil, now: Double) {
        self.rate = max(rate, 1e-12)
        self.capacity = max(capacity, 0)
        self.level = level ?? capacity
        self.updated = now
    }

    /// Adds what accrued since the last update. Time never runs backwards here: an earlier
    /// `now` changes nothing.
    public mutating func refill(now: Double) {
        guard now > updated else { return }
        level = min(capacity, level + (now - updated) * rate)
        updated = now
    }

    /// The level the bucket would have at `now`, without changing it.
    public func level(at now: Double) -> Double {
        now > updated ? min(capacity, level + (now - updated) * rate) : level
    }

    /// The earliest time at or after `now` when `amount` can be taken (plus `margin`).
    public func readyTime(for amount: Double, now: Double) -> Double {
        let need = min(amount, capacity)
        let have = level(at: now)
        if have >= need { return now }
        return now + (need - have) / rate + Self.margin
    }

    /// Takes `amount` (the caller has checked `readyTime`); the level may go negative.
    public mutating func take(_ amount: Double, now: Double) {
        refill(now: now)
        level -= amount
    }

    /// Gives `amount` back (a refund), up to `capacity`.
    public mutating func give(_ amount: Double, now: Double) {
        refill(now: now)
        level = min(capacity, level + max(0, amount))
    }

    /// Lowers the level to at most `ceiling` (what a throttle says the server's bucket holds).
    public mutating func drain(to ceiling: Double, now: Double) {
        refill(now: now)
        level = min(level, ceiling)
    }

    /// Changes the rate and capacity from `now` on: what accrued so far accrued at the old rate.
    public mutating func reconfigure(rate: Double, capacity: Double, now: Double) {
        refill(now: now)
        self.rate = max(rate, 1e-12)
        self.capacity = max(capacity, 0)
        level = min(level, self.capacity)
    }
}
