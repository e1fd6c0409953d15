import AWSCore
import Foundation

/// How the governor learns a rate from throttles, in some unit a second (calls, or quota
/// tokens). Implementations are pure state machines on the scheduler's clock; the governor
/// feeds them and turns `rate` into a pacing bucket.
protocol RateController {
    /// The learned rate in units a second, or nil while nothing has been learned (no pacing).
    var rate: Double? { get }
    /// Lets time pass. `measured` is what was sent in this controller's unit a second,
    /// `callRate` the calls sent a second.
    mutating func advance(now: Double, measured: Double, callRate: Double)
    /// A congestion event (a throttle that counts): decrease. `persistent` when the first call
    /// sent after the previous decrease was refused too (the rate is still far above the quota).
    mutating func congestion(now: Double, measured: Double, callRate: Double, persistent: Bool)
    /// A successful call completed.
    mutating func success(now: Double, measured: Double, callRate: Double)
}

/// Additive increase, multiplicative decrease.
///
/// On a congestion event the rate becomes `decrease × min(rate, measured)` (the first event,
/// with no rate yet, uses the measured rate alone); W is the rate it decreased from. Between
/// events it grows in two additive steps: fast (`recoveryPerSecond × W` a second) back to
/// `recoverTo × W`, just under the level that was too much, then slowly
/// (`probePerSecond × max(W, rate)` a second, which compounds once beyond W, so that a rate that
/// fell far or a quota that was raised is found again in tens of seconds, not minutes). So the
/// rate spends most of its time just under the quota, which matters when the server's bucket is
/// small (a per-minute quota of a few calls, a token quota a few reservations deep) and cannot
/// make up for time spent below, and it probes rarely.
/// Both slopes are also held to a fraction of W per call sent, so that a model paced at a few
/// calls a minute climbs over as many calls as a fast one rather than overshooting between two
/// calls. It grows only while the pacing binds (what is sent reaches half the rate), so an idle
/// or concurrency-bound run does not inflate it.
///
/// A decrease is `persistentDecrease` instead when the first call sent after the previous one
/// was refused too: the rate is still far above the quota (the first burst of a run, a quota
/// cut), and 0.8 a step would take a dozen refusals to get there.
struct AIMDController: RateController {
    let parameters: GovernorConfiguration.AIMD
    let minimumRate: Double
    private(set) var rate: Double?
    private(set) var wMax = 0.0
    private var lastAdvance: Double

    init(parameters: GovernorConfiguration.AIMD, minimumRate: Double, initialRate: Double?, now: Double) {
        self.parameters = parameters
        self.minimumRate = minimumRate
        rate = initialRate.map { max($0, minimumRate) }
        wMax = rate ?? 0
        lastAdvance = now
    }

    mutating func advance(now: Double, measured: Double, callRate: Double) {
        defer { lastAdvance = max(lastAdvance, now) }
        guard var r = rate, now > lastAdvance else { return }
        guard measured >= 0.5 * r else { return }
        var dt = now - lastAdvance
        let p = parameters
        let target = p.recoverTo * wMax
        if r < target {
            let slope = wMax * min(p.recoveryPerSecond, p.recoveryPerCall * callRate)
            let needed = slope > 0 ? (target - r) / slope : .infinity
            if needed >= dt {
                rate = r + slope * dt
                return
            }
            r = target
            dt -= needed
        }
        let slope = max(wMax, r) * min(p.probePerSecond, p.probePerCall * callRate)
        rate = r + slope * dt
    }

    mutating func congestion(now: Double, measured: Double, callRate: Double, persistent: Bool) {
        let base = max(minimumRate, rate.map { min($0, measured) } ?? measured)
        wMax = base
        rate = max(minimumRate, (persistent ? parameters.persistentDecrease : parameters.decrease) * base)
        lastAdvance = max(lastAdvance, now)
    }

    mutating func success(now: Double, measured: Double, callRate: Double) {}
}

/// botocore's adaptive limiter (reference/aws-protocols.md §5.4) over AWSCore's
/// `CubicCalculator`: disabled until the first throttle; then each throttle sets
/// `W_max = min(measured, fill rate)` and the rate to 0.7 × that, and each success sets the rate
/// on the cubic curve `0.4·(t − t_fail − K)³ + W_max`; every new rate is capped at 2 × measured
/// and floored at `minimumRate`.
///
/// The curve's constant is absolute (calls/s³), so the controller runs in calls, measured as
/// calls sent a second as botocore does: a controller of quota tokens paces at its rate in
/// calls times `scale` (the reservation of the call whose throttle created it).
struct CubicController: RateController {
    let minimumRate: Double
    let scale: Double
    private(set) var cubic: CubicCalculator
    private(set) var enabled: Bool
    /// In calls a second.
    private(set) var fillRate: Double

    init(minimumRate: Double, scale: Double = 1, initialRate: Double?, now: Double) {
        self.minimumRate = minimumRate
        self.scale = scale
        let start = initialRate.map { $0 / scale }
        cubic = CubicCalculator(startingMaxRate: start ?? 0, startTime: now)
        enabled = initialRate != nil
        fillRate = start ?? 1
    }

    var rate: Double? { enabled ? fillRate * scale : nil }

    mutating func advance(now: Double, measured: Double, callRate: Double) {}

    mutating func congestion(now: Double, measured: Double, callRate: Double, persistent: Bool) {
        let m = callRate
        let rateToUse = enabled ? min(m, fillRate) : m
        let newRate = cubic.errorReceived(currentRate: rateToUse, at: now)
        enabled = true
        set(min(newRate, AdaptiveRateLimiter.maxRateAdjustScale * m))
    }

    mutating func success(now: Double, measured: Double, callRate: Double) {
        set(min(cubic.successReceived(at: now), AdaptiveRateLimiter.maxRateAdjustScale * callRate))
    }

    private mutating func set(_ v: Double) {
        fillRate = max(v, minimumRate / scale)
    }
}
