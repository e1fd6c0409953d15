import Foundation

/// What the rate governor is told: the job's limits, the model's reservation arithmetic, and
/// how it adapts to throttles.
public struct GovernorConfiguration: Sendable, Equatable {
    /// How the call and token rates are learned from `ThrottlingException`s.
    public enum Algorithm: String, Sendable, Equatable, CaseIterable {
        /// Additive increase, multiplicative decrease, once per congestion event (`AIMD`). The
        /// default: in the simulation it met every target with the fewest throttles, and it
        /// behaves alike from a few calls a minute to hundreds a second
        /// (Benchmarks/governor/RESULTS.md).
        case aimd
        /// botocore's CUBIC curve (AWSCore `CubicCalculator`, C = 0.4, β = 0.7) and its pacing
        /// bucket, fed with the governor's measured send rate, once per congestion event. Its
        /// constant is absolute (calls/s³): it probes hard at low call rates.
        case cubic
        /// botocore's adaptive mode as it is: every throttle decreases, "measured" is the
        /// response rate in half-second buckets, 0.5 calls/s floor. A reference point.
        case botocore
    }

    /// AIMD's constants. After a decrease the rate climbs quickly back to `recoverTo` × the rate
    /// that was too much (W), then probes slowly; both climbs are additive, in fractions of W.
    public struct AIMD: Sendable, Equatable {
        /// The rate is multiplied by this on a congestion event.
        public var decrease: Double
        /// …or by this when the first call sent after the last decrease was refused as well:
        /// the rate is still far above the quota (the start of a run, a quota cut).
        public var persistentDecrease: Double
        /// The fast climb stops at this fraction of W.
        public var recoverTo: Double
        /// The fast climb, in fractions of W a second…
        public var recoveryPerSecond: Double
        /// …and at most this fraction of W per call sent (what sets the pace at low call rates).
        public var recoveryPerCall: Double
        /// The probe beyond `recoverTo × W`: fractions of max(W, rate) a second…
        public var probePerSecond: Double
        /// …and at most this fraction per call sent.
        public var probePerCall: Double
        /// The pacing bucket holds this many seconds of rate (at least one call).
        public var pacingBurstSeconds: Double
        /// The call rate never goes below this (calls a second); a token rate not below this
        /// many calls' worth.
        public var minimumRate: Double

        public init(decrease: Double = 0.8, persistentDecrease: Double = 0.5, recoverTo: Double = 0.95,
                    recoveryPerSecond: Double = 0.1, recoveryPerCall: Double = 0.02, probePerSecond: Double = 0.02,
                    probePerCall: Double = 0.002, pacingBurstSeconds: Double = 0.1, minimumRate: Double = 1.0 / 60) {
            self.decrease = decrease
            self.persistentDecrease = persistentDecrease
            self.recoverTo = recoverTo
            self.recoveryPerSecond = recoveryPerSecond
            self.recoveryPerCall = recoveryPerCall
            self.probePerSecond = probePerSecond
            self.probePerCall = probePerCall
            self.pacingBurstSeconds = pacingBurstSeconds
            self.minimumRate = minimumRate
        }
    }

    /// The most calls in flight (`limits.concurrency`); the adaptive limit stays at or below it.
    public var concurrency: Int
    /// The job's client-side cap on calls a minute, if any.
    public var requestsPerMinute: Double?
    /// The job's client-side cap on quota tokens a minute, if any, counted as Bedrock does:
    /// input + `maxTokens × burndown` reserved at admission, settled to actual usage at completion.
    public var tokensPerMinute: Double?
    /// Seconds of quota the client-side buckets hold. Kept at or below the server's burst so that
    /// a known quota is never exceeded (Bedrock's burst is not published; the emulator's default
    /// is 1 s).
    public var burstSeconds: Double
    /// How many quota tokens one output token costs (1, or 5 for the Claude 4 family).
    public var burndown: Double
    /// `inferenceConfig.maxTokens` as sent (the model's maximum when the job leaves it unset).
    public var maxTokens: Int
    /// Attempts per call, throttles included (`limits.maxAttempts`).
    public var maxAttempts: Int
    public var algorithm: Algorithm
    public var aimd: AIMD
    /// A request rate to pace at from the start, as if learned (calls a second); nil to send
    /// freely until the first throttle.
    public var initialRate: Double?
    /// The adaptive concurrency limit is `headroom × rate × latency + 1` (Little's law with room
    /// for slow calls), between 2 and `concurrency`.
    public var concurrencyHeadroom: Double
    /// Backoff for calls that failed other than by throttling: full jitter, base 1 s, this cap.
    public var maxBackoff: Double
    /// Backoff for throttled calls: full jitter from `throttleBackoffBase` doubling up to this
    /// cap. Short on purpose: `decide` paces the retry, the backoff only spreads the retries.
    public var maxThrottleBackoff: Double
    public var throttleBackoffBase: Double

    public init(concurrency: Int, requestsPerMinute: Double? = nil, tokensPerMinute: Double? = nil,
                burstSeconds: Double = 1, burndown: Double = 1, maxTokens: Int, maxAttempts: Int = 10,
                algorithm: Algorithm = .aimd, aimd: AIMD = AIMD(), initialRate: Double? = nil,
                concurrencyHeadroom: Double = 2, maxBackoff: Double = 20, maxThrottleBackoff: Double = 2,
                throttleBackoffBase: Double = 0.1) {
        self.concurrency = max(1, concurrency)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.burstSeconds = burstSeconds
        self.burndown = burndown
        self.maxTokens = maxTokens
        self.maxAttempts = max(1, maxAttempts)
        self.algorithm = algorithm
        self.aimd = aimd
        self.initialRate = initialRate
        self.concurrencyHeadroom = concurrencyHeadroom
        self.maxBackoff = maxBackoff
        self.maxThrottleBackoff = maxThrottleBackoff
        self.throttleBackoffBase = throttleBackoffBase
    }

    /// The configuration for a job: its limits, and maxTokens (or `defaultMaxTokens`, the
    /// model's maximum, which Bedrock then reserves).
    public init(limits: Limits, model: ModelSettings, burndown: Double = 1, defaultMaxTokens: Int = 4096,
                algorithm: Algorithm = .aimd) {
        self.init(concurrency: limits.concurrency, requestsPerMinute: limits.requestsPerMinute,
                  tokensPerMinute: limits.tokensPerMinute, burndown: burndown,
                  maxTokens: model.maxTokens ?? defaultMaxTokens, maxAttempts: limits.maxAttempts,
                  algorithm: algorithm)
    }

    /// Quota tokens a call reserves at admission: input + maxTokens × burndown.
    public func reservation(inputTokens: Int) -> Double {
        Double(inputTokens) + Double(maxTokens) * burndown
    }

    /// Quota tokens a call used: input + output × burndown (what its reservation settles to).
    public func usage(inputTokens: Int, outputTokens: Int) -> Double {
        Double(inputTokens) + Double(outputTokens) * burndown
    }
}
