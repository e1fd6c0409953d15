import Foundation
import Synchronization

/// CUBIC as botocore's adaptive mode uses it: after a throttle the rate drops to β × the rate
/// then in use and the curve `C·(t − t_fail − K)³ + W_max` brings it back to `W_max` after `K`
/// seconds, then probes above it.
public struct CubicCalculator: Sendable, Equatable {
    public static let scaleConstant = 0.4
    public static let beta = 0.7

    public private(set) var wMax: Double
    public private(set) var k: Double
    public private(set) var lastFailure: Double

    public init(startingMaxRate: Double = 0, startTime: Double) {
        wMax = startingMaxRate
        lastFailure = startTime
        k = 0
        k = zeroPoint()
    }

    func zeroPoint() -> Double { cbrt(wMax * (1 - Self.beta) / Self.scaleConstant) }

    /// The rate after a success at `time`.
    public func successReceived(at time: Double) -> Double {
        let dt = time - lastFailure
        return Self.scaleConstant * pow(dt - k, 3) + wMax
    }

    /// The rate after a throttle at `time`, while sending at `currentRate`.
    public mutating func errorReceived(currentRate: Double, at time: Double) -> Double {
        wMax = currentRate
        k = zeroPoint()
        lastFailure = time
        return currentRate * Self.beta
    }
}

/// botocore's client-side rate limiter (adaptive retry mode): a token bucket whose fill rate
/// follows CUBIC, fed by every response, enabled by the first throttle.
public final class AdaptiveRateLimiter: Sendable {
    public static let minFillRate = 0.5
    public static let maxRateAdjustScale = 2.0
    public static let smoothing = 0.8
    public static let bucketRange = 0.5

    struct State {
        var enabled = false
        var cubic: CubicCalculator
        // token bucket
        var fillRate = 1.0
        var maxCapacity = 1.0
        var capacity = 0.0
        var lastRefill: Double?
        // measured send rate
        var measured = 0.0
        var count = 0.0
        var lastBucket: Double
    }

    private let state: Mutex<State>
    let clock: @Sendable () -> Double
    let sleep: @Sendable (Duration) async throws -> Void

    /// - Parameters:
    ///   - clock: monotonic seconds.
    ///   - sleep: how to wait (injected so tests run without time passing).
    public init(clock: @escaping @Sendable () -> Double = AdaptiveRateLimiter.monotonicSeconds,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.clock = clock
        self.sleep = sleep
        let now = clock()
        state = Mutex(State(cubic: CubicCalculator(startTime: now), lastBucket: now.rounded(.down)))
    }

    public static let monotonicSeconds: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public var isEnabled: Bool { state.withLock { $0.enabled } }
    public var fillRate: Double { state.withLock { $0.fillRate } }
    public var measuredRate: Double { state.withLock { $0.measured } }

    /// Waits for a token when the limiter is enabled; returns at once otherwise.
    public func acquire() async throws {
        while true {
            let wait: Double? = state.withLock { s in
                guard s.enabled else { return nil }
                Self.refill(&s, now: clock())
                if s.capacity >= 1 {
                    s.capacity -= 1
                    return nil
                }
                return (1 - s.capacity) / s.fillRate
            }
            guard let wait else { return }
            try await sleep(.nanoseconds(Int64((wait * 1e9).rounded(.up))))
        }
    }

    /// Feeds the outcome of one attempt: a throttling error or anything else.
    public func update(throttled: Bool) {
        state.withLock { s in
            let now = clock()
            // measured rate, in half-second buckets
            s.count += 1
            let bucket = (now * 2).rounded(.down) / 2
            if bucket > s.lastBucket {
                let current = s.count / (bucket - s.lastBucket)
                s.measured = current * Self.smoothing + s.measured * (1 - Self.smoothing)
                s.count = 0
                s.lastBucket = bucket
            }
            let newRate: Double
            if throttled {
                let rateToUse = s.enabled ? min(s.measured, s.fillRate) : s.measured
                newRate = s.cubic.errorReceived(currentRate: rateToUse, at: now)
                s.enabled = true
            } else {
                newRate = s.cubic.successReceived(at: now)
            }
            Self.setRate(&s, min(newRate, Self.maxRateAdjustScale * s.measured), now: now)
        }
    }

    static func refill(_ s: inout State, now: Double) {
        guard let last = s.lastRefill else {
            s.lastRefill = now
            return
        }
        s.capacity = min(s.maxCapacity, s.capacity + (now - last) * s.fillRate)
        s.lastRefill = now
    }

    static func setRate(_ s: inout State, _ rate: Double, now: Double) {
        refill(&s, now: now)
        s.fillRate = max(rate, minFillRate)
        s.maxCapacity = rate >= 1 ? rate : 1
        s.capacity = min(s.capacity, s.maxCapacity)
    }
}
