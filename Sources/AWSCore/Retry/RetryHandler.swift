import Foundation

/// Runs a call with retries as botocore's standard or adaptive mode does: full-jitter
/// exponential backoff capped at 20 s, `Retry-After` / `x-amz-retry-after` honoured, a retry
/// quota shared by the client, and in adaptive mode a client-side rate limiter before every
/// attempt. One handler per client; a caller that owns retrying itself passes
/// `RetryConfiguration.disabled` or calls the client with `retry: false`.
public final class RetryHandler: Sendable {
    public let configuration: RetryConfiguration
    public let quota: RetryQuota
    public let limiter: AdaptiveRateLimiter?
    let random: @Sendable () -> Double
    let sleep: @Sendable (Duration) async throws -> Void

    public init(configuration: RetryConfiguration, quota: RetryQuota = RetryQuota(),
                limiter: AdaptiveRateLimiter? = nil,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.configuration = configuration
        self.quota = quota
        self.limiter = limiter ?? (configuration.mode == .adaptive ? AdaptiveRateLimiter(sleep: sleep) : nil)
        self.random = random
        self.sleep = sleep
    }

    /// The wait before the attempt after `attempt` (1-based) failed.
    public func backoff(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Duration {
        let cap = Double(configuration.maxBackoff.components.seconds)
            + Double(configuration.maxBackoff.components.attoseconds) / 1e18
        let base = min(pow(2, Double(max(0, attempt - 1))), cap)
        let jittered = random() * base
        var delay = Duration.nanoseconds(Int64(jittered * 1e9))
        if let retryAfter {
            delay = max(delay, min(retryAfter, delay + .seconds(5)))
        }
        return delay
    }

    /// The outcome of a call: its result and how many attempts it took.
    public struct Outcome<Value: Sendable>: Sendable {
        public var value: Value
        public var attempts: Int
    }

    /// Runs `attempt` (given the 1-based attempt number) until it succeeds, fails with an error
    /// that is not retryable, runs out of attempts, or the retry quota is empty. Errors other
    /// than `AWSError` (such as credential errors) are never retried.
    public func run<Value: Sendable>(_ attempt: (Int) async throws -> Value) async throws -> Outcome<Value> {
        var number = 1
        var lastCost: Int?
        while true {
            try await limiter?.acquire()
            do {
                let value = try await attempt(number)
                limiter?.update(throttled: false)
                quota.release(lastCost)
                return Outcome(value: value, attempts: number)
            } catch let error as AWSError {
                let verdict = RetryClassifier.classify(error)
                limiter?.update(throttled: verdict == .throttling)
                guard verdict != .doNotRetry, number < configuration.maxAttempts else { throw error }
                guard let cost = quota.acquire(afterTimeout: error.transportError?.isTimeout == true) else {
                    throw error
                }
                lastCost = cost
                try await sleep(backoff(afterAttempt: number, retryAfter: error.retryAfter))
                number += 1
            }
        }
    }
}
