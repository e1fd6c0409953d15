import Foundation

/// Paces model calls against a per-model quota it may not know: a concurrency limit, the job's
/// client-side request and token caps, and a call rate and a quota-token rate learned from
/// `ThrottlingException`s (AIMD by default; see `GovernorConfiguration.Algorithm`).
///
/// # What it enforces
/// - In flight: at most `concurrencyLimit`, which is `configuration.concurrency` or less once
///   the calls are paced (Little's law with headroom), never more.
/// - The job's `requestsPerMinute` and `tokensPerMinute`: token buckets holding `burstSeconds`
///   of quota; a call reserves input + maxTokens × burndown at admission and gets back the
///   unused part at completion, as Bedrock counts.
/// - Learned limits, each enabled by the first throttle naming it: "Too many requests" (or an
///   unrecognised message) teaches a call rate, paced by a small bucket; "Too many tokens"
///   teaches a quota-token rate, paced by a bucket that mirrors the server's (reservation at
///   admission, refund at completion). A throttle also empties the mirror: the server's bucket
///   was short at that moment.
/// - One decrease per congestion event: only a throttle of a call admitted after the last
///   decrease counts again.
///
/// # Threading
/// Not `Sendable`: the runner's scheduler (one serial `DispatchQueue`) owns the governor and is
/// the only caller. Time is passed in (`now`, seconds on any monotonic clock), so the governor
/// never reads a clock or sleeps, and the same inputs give the same decisions.
///
/// # Use from the scheduler
/// ```swift
/// // whenever a call is ready to go (new item, retry due, timer fired, a call completed):
/// let reserved = configuration.reservation(inputTokens: estimate)
/// switch governor.decide(now: clock(), reservedTokens: reserved) {
/// case .admit:
///     let ticket = governor.admitted(now: clock(), reservedTokens: reserved)
///     send(call, ticket)                          // then try the next call
/// case .waitUntil(let time):  armTimer(at: time)  // one timer; re-decide when it fires
/// case .blockedOnConcurrency: break               // re-decide on the next completion
/// }
/// // when a call ends, exactly once per ticket:
/// governor.completed(ticket, now: clock(), outcome: .success(usedTokens: u))   // or .throttled / .failed
/// // a throttled or retryable failed call goes back in the queue, not before
/// //   clock() + governor.retryDelay(attempt: n, after: outcome)   (while n < maxAttempts)
/// ```
/// Retries should be offered before new items, so that items finish in order.
public final class RateGovernor {
    /// What the scheduler should do with the next call.
    public enum Decision: Sendable, Equatable {
        /// Send it now (then call `admitted`).
        case admit
        /// A rate or token bucket is short: try again at this time (same clock as `now`).
        case waitUntil(Double)
        /// The concurrency limit is reached: try again when a call completes.
        case blockedOnConcurrency
    }

    /// Which quota a throttle names, read from the `ThrottlingException` message.
    public enum ThrottleKind: String, Sendable, Equatable {
        /// "Too many requests, please wait before trying again."
        case requests
        /// "Too many tokens, please wait before trying again."
        case tokens
        case unknown

        public init(message: String?) {
            let text = message?.lowercased() ?? ""
            if text.contains("too many tokens") {
                self = .tokens
            } else if text.contains("too many requests") {
                self = .requests
            } else {
                self = .unknown
            }
        }
    }

    /// How a call ended.
    public enum Outcome: Sendable, Equatable {
        /// It succeeded; `usedTokens` is what its reservation settles to
        /// (`GovernorConfiguration.usage`).
        case success(usedTokens: Double)
        /// `ThrottlingException`: the quota refused it. Nothing was used.
        case throttled(ThrottleKind)
        /// Any other failure: the whole reservation is given back; the rate is not changed.
        case failed
    }

    /// A call in flight; hand it back to `completed` exactly once (a second time is ignored).
    public struct Ticket: Sendable, Equatable, Hashable {
        /// Admission order, from 1.
        public let serial: UInt64
        public let admittedAt: Double
        public let reservedTokens: Double
    }

    /// Figures for progress lines and the report.
    public struct Figures: Sendable, Equatable {
        /// The request rate being paced at (calls a second): the learned rate or the job's cap,
        /// whichever is lower; nil while nothing limits the rate.
        public var rateLimit: Double?
        /// The learned call rate (nil before the first request throttle).
        public var learnedRate: Double?
        /// The learned quota-token rate, tokens a second (nil before the first token throttle).
        public var learnedTokenRate: Double?
        public var concurrencyLimit: Int
        public var inFlight: Int
        /// Calls sent per second, measured.
        public var sendRate: Double
        /// Quota tokens per second, measured net of refunds.
        public var tokenRate: Double
        /// All throttled calls, and by the quota they named.
        public var throttles: Int
        public var requestThrottles: Int
        public var tokenThrottles: Int
        /// Throttles that counted as new congestion events (rate decreases).
        public var congestionEvents: Int
        /// Smoothed latency of successful calls, seconds.
        public var latency: Double?
        public var admitted: Int
        public var succeeded: Int
        public var failed: Int
    }

    /// One learned limit: calls a second (fed by "Too many requests" and unrecognised
    /// throttles) or quota tokens a second (fed by "Too many tokens"), with its pacing bucket.
    /// A token limit paces like Bedrock counts: each call takes its reservation from the bucket
    /// and completions give back the unused part, so the bucket mirrors the server's own.
    struct Limit {
        var controller: any RateController
        var gate: GovernorBucket?
        /// Throttles of calls admitted at or before this serial belong to the last event.
        var lastEventSerial: UInt64?
        var events = 0
        /// Calls admitted after this serial were charged to `gate`; only their refunds go back.
        var gateSince: UInt64 = 0
    }

    public let configuration: GovernorConfiguration
    private(set) var requestBucket: GovernorBucket?
    private(set) var tokenBucket: GovernorBucket?
    private(set) var requestLimit: Limit
    private(set) var tokenLimit: Limit?
    private var meter = FlowMeter()
    private var clocker: ResponseRateClocker
    private let random: () -> Double

    public private(set) var inFlight = 0
    private var outstanding: Set<UInt64> = []
    private var serial: UInt64 = 0
    private var latency: Double?
    private var meanUsage: Double?
    private var largestReservation = 0.0
    private var counts = (admitted: 0, succeeded: 0, failed: 0, throttles: 0, requestThrottles: 0,
                          tokenThrottles: 0)

    /// - Parameters:
    ///   - now: the scheduler's clock now; buckets start full at this time.
    ///   - random: uniform in [0, 1), for backoff jitter (inject a seeded one in tests).
    public init(configuration: GovernorConfiguration, now: Double,
                random: @escaping () -> Double = { Double.random(in: 0..<1) }) {
        self.configuration = configuration
        self.random = random
        let burst = max(configuration.burstSeconds, 0)
        requestBucket = configuration.requestsPerMinute.map {
            GovernorBucket(rate: $0 / 60, capacity: max(1, $0 / 60 * burst), now: now)
        }
        tokenBucket = configuration.tokensPerMinute.map {
            GovernorBucket(rate: $0 / 60, capacity: max(1, $0 / 60 * burst), now: now)
        }
        clocker = ResponseRateClocker(now: now)
        requestLimit = Limit(controller: Self.makeController(configuration, scale: 1,
                                                             initialRate: configuration.initialRate, now: now))
        syncGates(now: now)
    }

    static func makeController(_ c: GovernorConfiguration, scale: Double, initialRate: Double?,
                               now: Double) -> any RateController {
        switch c.algorithm {
        case .aimd:
            return AIMDController(parameters: c.aimd, minimumRate: c.aimd.minimumRate * scale,
                                  initialRate: initialRate, now: now)
        case .cubic:
            return CubicController(minimumRate: c.aimd.minimumRate * scale, scale: scale,
                                   initialRate: initialRate, now: now)
        case .botocore:
            return CubicController(minimumRate: 0.5, initialRate: initialRate, now: now)
        }
    }

    // MARK: - Deciding

    /// Whether the next call, reserving `reservedTokens` (`configuration.reservation`), may go now.
    public func decide(now: Double, reservedTokens: Double) -> Decision {
        advance(now)
        if inFlight >= concurrencyLimit { return .blockedOnConcurrency }
        var ready = now
        if let b = requestBucket { ready = max(ready, b.readyTime(for: 1, now: now)) }
        if let b = tokenBucket { ready = max(ready, b.readyTime(for: reservedTokens, now: now)) }
        if let g = requestLimit.gate { ready = max(ready, g.readyTime(for: 1, now: now)) }
        if let g = tokenLimit?.gate { ready = max(ready, g.readyTime(for: reservedTokens, now: now)) }
        return ready <= now ? .admit : .waitUntil(ready)
    }

    /// Records that a call was sent after `decide` said `.admit`: takes one request, the
    /// reservation and the pacing tokens, and counts it in flight. Call it only after `.admit`
    /// (at the same `now`); a call beyond `configuration.concurrency` is a programming error and
    /// stops the process.
    public func admitted(now: Double, reservedTokens: Double) -> Ticket {
        precondition(inFlight < configuration.concurrency, "admitted beyond the concurrency cap")
        advance(now)
        requestBucket?.take(1, now: now)
        tokenBucket?.take(reservedTokens, now: now)
        requestLimit.gate?.take(1, now: now)
        tokenLimit?.gate?.take(reservedTokens, now: now)
        inFlight += 1
        serial += 1
        counts.admitted += 1
        largestReservation = max(largestReservation, reservedTokens)
        meter.admitted(now, reservedTokens: reservedTokens)
        outstanding.insert(serial)
        return Ticket(serial: serial, admittedAt: now, reservedTokens: reservedTokens)
    }

    /// Records how a call ended: settles its reservation, learns from throttles and latency.
    ///
    /// A burst of throttles is one congestion event: only a throttle of a call admitted after
    /// the last decrease (of the same limit) decreases again, so the many calls that were
    /// already in flight when the quota ran out cost one decrease, not one each. (`.botocore`
    /// reacts to every throttle, and has one limit, as botocore does.)
    ///
    /// - Returns: false, changing nothing, for a ticket that is not in flight (already completed).
    @discardableResult
    public func completed(_ ticket: Ticket, now: Double, outcome: Outcome) -> Bool {
        guard outstanding.remove(ticket.serial) != nil else { return false }
        advance(now)
        inFlight -= 1
        let responses = clocker.record(now)
        let refund: Double
        switch outcome {
        case .success(let used):
            refund = max(0, ticket.reservedTokens - used)
        case .throttled, .failed:
            refund = ticket.reservedTokens
        }
        tokenBucket?.give(refund, now: now)
        meter.refunded(now, tokens: refund)
        if case .throttled(let kind) = outcome, configuration.algorithm != .botocore {
            // The server's bucket was short of this call: so is its mirror, from now on. The
            // reservation is not given back to it, or the retry would go at once, be refused
            // at once, and count as a new congestion event.
            if kind == .tokens {
                tokenLimit?.gate?.drain(to: 0, now: now)
            } else {
                requestLimit.gate?.drain(to: 0, now: now)
            }
        } else if let since = tokenLimit?.gateSince, ticket.serial > since {
            tokenLimit?.gate?.give(refund, now: now)
        }

        switch outcome {
        case .success(let used):
            counts.succeeded += 1
            let sample = max(0, now - ticket.admittedAt)
            latency = latency.map { 0.8 * $0 + 0.2 * sample } ?? sample
            meanUsage = meanUsage.map { 0.9 * $0 + 0.1 * used } ?? used
            let calls = configuration.algorithm == .botocore ? responses : meter.callRate(now: now)
            requestLimit.controller.success(now: now, measured: calls, callRate: calls)
            tokenLimit?.controller.success(now: now, measured: meter.tokenRate(now: now), callRate: calls)
        case .throttled(let kind):
            counts.throttles += 1
            switch kind {
            case .requests: counts.requestThrottles += 1
            case .tokens: counts.tokenThrottles += 1
            case .unknown: break
            }
            if configuration.algorithm == .botocore {
                requestLimit.events += 1
                requestLimit.controller.congestion(now: now, measured: responses, callRate: responses,
                                                   persistent: false)
            } else if kind == .tokens {
                if tokenLimit == nil {
                    tokenLimit = Limit(controller: Self.makeController(configuration, scale: ticket.reservedTokens,
                                                                       initialRate: nil, now: now))
                }
                Self.congestion(&tokenLimit!, ticket: ticket, serial: serial, now: now,
                                measured: meter.tokenRate(now: now), callRate: meter.callRate(now: now))
            } else {
                let calls = meter.callRate(now: now)
                Self.congestion(&requestLimit, ticket: ticket, serial: serial, now: now, measured: calls,
                                callRate: calls)
            }
        case .failed:
            counts.failed += 1
            if configuration.algorithm == .botocore {
                // botocore feeds every response that is not a throttle to the success path.
                requestLimit.controller.success(now: now, measured: responses, callRate: responses)
            }
        }
        syncGates(now: now)
        return true
    }

    private static func congestion(_ limit: inout Limit, ticket: Ticket, serial: UInt64, now: Double,
                                   measured: Double, callRate: Double) {
        if let last = limit.lastEventSerial, ticket.serial <= last { return }
        limit.events += 1
        let persistent = limit.lastEventSerial.map { ticket.serial == $0 + 1 } ?? false
        limit.controller.congestion(now: now, measured: measured, callRate: callRate, persistent: persistent)
        limit.lastEventSerial = serial
    }

    /// Seconds to wait before attempt `attempt + 1` of a call whose attempt `attempt` (1-based)
    /// ended with `outcome`; full jitter. A throttled call comes back soon (0.1 s doubling,
    /// capped at 2 s by default) because `decide` paces it at the learned rate; other failures
    /// back off as botocore's standard mode (1 s doubling, capped at 20 s). The runner stops
    /// retrying at `configuration.maxAttempts`.
    public func retryDelay(attempt: Int, after outcome: Outcome) -> Double {
        let exponent = pow(2, Double(max(0, attempt - 1)))
        let ceiling: Double
        if case .throttled = outcome {
            ceiling = min(configuration.throttleBackoffBase * exponent, configuration.maxThrottleBackoff)
        } else {
            ceiling = min(exponent, configuration.maxBackoff)
        }
        return random() * ceiling
    }

    // MARK: - Figures

    /// The most calls allowed in flight now: `configuration.concurrency`, or less once the calls
    /// are paced and their latency is known (`concurrencyHeadroom × call rate × latency + 1`,
    /// at least 2), so that a slowing service does not pile calls up.
    public var concurrencyLimit: Int {
        let cap = configuration.concurrency
        guard let rate = pacedRate, let latency else { return cap }
        let need = (configuration.concurrencyHeadroom * rate * latency).rounded(.up) + 1
        guard need < Double(cap) else { return cap }
        return min(cap, max(2, Int(need)))
    }

    /// The call rate paced at (calls a second): the lowest of the learned call rate, the job's
    /// cap, and the learned or capped token rate over the mean usage of a call; nil if none.
    public var pacedRate: Double? {
        var rates: [Double] = []
        if let r = requestLimit.controller.rate { rates.append(r) }
        if let rpm = configuration.requestsPerMinute { rates.append(rpm / 60) }
        if let usage = meanUsage, usage > 0 {
            if let r = tokenLimit?.controller.rate { rates.append(r / usage) }
            if let tpm = configuration.tokensPerMinute { rates.append(tpm / 60 / usage) }
        }
        return rates.min()
    }

    public func figures(now: Double) -> Figures {
        Figures(rateLimit: pacedRate, learnedRate: requestLimit.controller.rate,
                learnedTokenRate: tokenLimit?.controller.rate, concurrencyLimit: concurrencyLimit,
                inFlight: inFlight, sendRate: meter.callRate(now: now), tokenRate: meter.tokenRate(now: now),
                throttles: counts.throttles, requestThrottles: counts.requestThrottles,
                tokenThrottles: counts.tokenThrottles,
                congestionEvents: requestLimit.events + (tokenLimit?.events ?? 0), latency: latency,
                admitted: counts.admitted, succeeded: counts.succeeded, failed: counts.failed)
    }

    // MARK: - Internals

    /// Lets the controllers' rates grow with time and keeps the pacing buckets in step.
    private func advance(_ now: Double) {
        guard requestLimit.controller.rate != nil || tokenLimit != nil else { return }
        let calls = meter.callRate(now: now)
        requestLimit.controller.advance(now: now, measured: calls, callRate: calls)
        tokenLimit?.controller.advance(now: now, measured: meter.tokenRate(now: now), callRate: calls)
        syncGates(now: now)
    }

    /// The pacing buckets follow the controllers; each is created empty when its rate is first
    /// learned. The call bucket holds `pacingBurstSeconds` of rate (AIMD) or one second (CUBIC,
    /// as botocore); the token bucket `burstSeconds` of rate, and at least two of the largest
    /// reservation seen, so that refunds arriving while it saves up for the next reservation are
    /// not lost to a full bucket (with one, a Claude 4 style run in the simulation held about 0.90
    /// of its quota; with two, 0.96: Benchmarks/governor/RESULTS.md).
    private func syncGates(now: Double) {
        if let rate = requestLimit.controller.rate {
            let burst = configuration.algorithm == .aimd ? configuration.aimd.pacingBurstSeconds : 1
            Self.sync(&requestLimit, rate: rate, capacity: max(1, rate * burst), serial: serial, now: now)
        }
        if let rate = tokenLimit?.controller.rate {
            let capacity = max(rate * configuration.burstSeconds, 2 * largestReservation)
            Self.sync(&tokenLimit!, rate: rate, capacity: capacity, serial: serial, now: now)
        }
    }

    private static func sync(_ limit: inout Limit, rate: Double, capacity: Double, serial: UInt64, now: Double) {
        if limit.gate == nil {
            limit.gate = GovernorBucket(rate: rate, capacity: capacity, level: 0, now: now)
            limit.gateSince = serial
        } else {
            limit.gate?.reconfigure(rate: rate, capacity: capacity, now: now)
        }
    }
}
