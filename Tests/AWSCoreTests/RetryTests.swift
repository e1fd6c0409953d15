import Foundation
import Synchronization
import Testing
@testable import AWSCore

/// A clock and a sleep that only move when told: sleeping advances the clock.
final class FakeTime: Sendable {
    let now = Mutex<Double>(1000)
    let sleeps = Mutex<[Duration]>([])

    var clock: @Sendable () -> Double { { self.now.withLock { $0 } } }
    var sleep: @Sendable (Duration) async throws -> Void {
        { d in
            self.sleeps.withLock { $0.append(d) }
            self.advance(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
    }

    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    var recorded: [Duration] { sleeps.withLock { $0 } }
}

func awsError(_ code: String, _ status: Int?, transport: TransportError? = nil, retryAfter: Duration? = nil) -> AWSError {
    if let transport { return AWSError(service: "Test", operation: "Op", transport: transport) }
    return AWSError(kind: AWSError.classify(code: code, status: status ?? 0), service: "Test", operation: "Op",
                    status: status, code: code, message: "m", retryAfter: retryAfter)
}

@Suite struct BackoffTests {
    @Test func fullJitterDoublesAndCapsAtTwentySeconds() {
        let handler = RetryHandler(configuration: RetryConfiguration(maxAttempts: 10), random: { 1.0 })
        let delays = (1...7).map { handler.backoff(afterAttempt: $0) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(20), .seconds(20)])
        let none = RetryHandler(configuration: RetryConfiguration(), random: { 0 })
        #expect(none.backoff(afterAttempt: 5) == .zero)
        let half = RetryHandler(configuration: RetryConfiguration(), random: { 0.5 })
        #expect(half.backoff(afterAttempt: 3) == .seconds(2))
    }

    @Test func retryAfterIsHonouredWithinFiveSecondsOfTheBackoff() {
        let handler = RetryHandler(configuration: RetryConfiguration(), random: { 0.5 })
        // t = 0.5 s; asked for 3 s → 3 s; asked for 60 s → t + 5 = 5.5 s; asked for 0.1 s → t
        #expect(handler.backoff(afterAttempt: 1, retryAfter: .seconds(3)) == .seconds(3))
        #expect(handler.backoff(afterAttempt: 1, retryAfter: .seconds(60)) == .milliseconds(5500))
        #expect(handler.backoff(afterAttempt: 1, retryAfter: .milliseconds(100)) == .milliseconds(500))
    }
}

@Suite struct RetryQuotaTests {
    @Test func costsAndRefunds() {
        let quota = RetryQuota()
        #expect(quota.acquire(afterTimeout: false) == 5)
        #expect(quota.acquire(afterTimeout: true) == 10)
        #expect(quota.available == 485)
        quota.release(10)
        #expect(quota.available == 495)
        quota.release(nil)
        quota.release(nil)
        #expect(quota.available == 497)
        quota.release(nil)
        quota.release(nil)
        quota.release(nil)
        quota.release(nil)
        #expect(quota.available == 500)  // capped
    }

    @Test func emptiesAfterOneHundredRetries() {
        let quota = RetryQuota()
        for _ in 0..<100 { #expect(quota.acquire(afterTimeout: false) != nil) }
        #expect(quota.acquire(afterTimeout: false) == nil)
        #expect(quota.available == 0)
    }
}

@Suite struct RetryHandlerTests {
    /// Runs `handler` over a script of outcomes: an error to throw, or nil for success.
    func run(_ handler: RetryHandler, _ script: [AWSError?]) async -> (attempts: Int, error: AWSError?) {
        let calls = Mutex(0)
        do {
            let outcome = try await handler.run { attempt -> Int in
                let index = calls.withLock { c -> Int in
                    c += 1
                    return c - 1
                }
                #expect(attempt == index + 1)
                if index < script.count, let error = script[index] { throw error }
                return attempt
            }
            return (outcome.attempts, nil)
        } catch {
            return (calls.withLock { $0 }, error as? AWSError)
        }
    }

    func handler(_ attempts: Int = 3, mode: RetryConfiguration.Mode = .standard, quota: RetryQuota = RetryQuota(),
                 time: FakeTime = FakeTime()) -> RetryHandler {
        RetryHandler(configuration: RetryConfiguration(mode: mode, maxAttempts: attempts), quota: quota,
                     limiter: mode == .adaptive ? AdaptiveRateLimiter(clock: time.clock, sleep: time.sleep) : nil,
                     random: { 0.5 }, sleep: time.sleep)
    }

    @Test func throttlesAreRetriedUntilSuccess() async {
        let time = FakeTime()
        let quota = RetryQuota()
        let result = await run(handler(quota: quota, time: time), [awsError("ThrottlingException", 429),
                                                                  awsError("ThrottlingException", 429), nil])
        #expect(result.attempts == 3)
        #expect(result.error == nil)
        #expect(time.recorded == [.milliseconds(500), .seconds(1)])
        #expect(quota.available == 495)  // two retries cost 10, the success refunds the last 5
    }

    @Test func stopsAtMaxAttempts() async {
        let result = await run(handler(3), Array(repeating: awsError("InternalServerException", 500), count: 5))
        #expect(result.attempts == 3)
        #expect(result.error?.code == "InternalServerException")
    }

    @Test(arguments: [
        ("ValidationException", 400), ("AccessDeniedException", 403), ("ResourceNotFoundException", 404),
        ("ModelTimeoutException", 408), ("ModelErrorException", 424), ("PreconditionFailed", 412),
        ("ConditionalRequestConflict", 409),
    ])
    func clientErrorsAreNotRetried(code: String, status: Int) async {
        let result = await run(handler(5), [awsError(code, status), nil])
        #expect(result.attempts == 1)
        #expect(result.error?.code == code)
    }

    @Test(arguments: [
        ("InternalServerException", 500), ("ServiceUnavailableException", 503), ("SlowDown", 503),
        ("RequestTimeout", 400), ("ModelNotReadyException", 429), ("502", 502), ("504", 504),
        ("ThrottlingException", 400), ("InternalError", 500),
    ])
    func transientAndThrottlingErrorsAreRetried(code: String, status: Int) async {
        let result = await run(handler(5), [awsError(code, status), nil])
        #expect(result.attempts == 2)
        #expect(result.error == nil)
    }

    @Test func readTimeoutIsRetriedAtTheTimeoutCost() async {
        let quota = RetryQuota()
        let timeout = TransportError(kind: .readTimeout, code: 28, message: "silent", requestSent: true)
        let result = await run(handler(quota: quota),
                               [awsError("", nil, transport: timeout), awsError("", nil, transport: timeout)])
        #expect(result.attempts == 3)
        #expect(quota.available == 490)  // two timeout retries at 10, refunded 10 on success
    }

    @Test func cancelledTransferIsNotRetried() async {
        let cancelled = TransportError(kind: .cancelled, message: "cancelled", requestSent: false)
        let result = await run(handler(), [awsError("", nil, transport: cancelled), nil])
        #expect(result.attempts == 1)
    }

    @Test func emptyQuotaStopsRetrying() async {
        let quota = RetryQuota(capacity: 4)
        let result = await run(handler(quota: quota), [awsError("InternalServerException", 500), nil])
        #expect(result.attempts == 1)
        #expect(result.error?.code == "InternalServerException")
    }

    @Test func otherErrorsAreNotRetried() async {
        struct NotAWS: Error {}
        let calls = Mutex(0)
        await #expect(throws: NotAWS.self) {
            _ = try await handler(5).run { _ -> Int in
                calls.withLock { $0 += 1 }
                throw NotAWS()
            }
        }
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func adaptiveModeEnablesTheLimiterOnThrottle() async {
        let time = FakeTime()
        let retry = handler(4, mode: .adaptive, time: time)
        #expect(retry.limiter?.isEnabled == false)
        let result = await run(retry, [awsError("ThrottlingException", 429), nil])
        #expect(result.attempts == 2)
        #expect(retry.limiter?.isEnabled == true)
    }
}

@Suite struct RetryConfigurationTests {
    @Test func environmentThenProfileThenDefaults() throws {
        #expect(try RetryConfiguration.resolve(environment: [:]) == RetryConfiguration(mode: .standard, maxAttempts: 3))
        let env = try RetryConfiguration.resolve(environment: ["AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "7"],
                                                 profile: ["retry_mode": "standard", "max_attempts": "2"])
        #expect(env.mode == .adaptive)
        #expect(env.maxAttempts == 7)
        let profile = try RetryConfiguration.resolve(environment: [:], profile: ["retry_mode": "adaptive",
                                                                                 "max_attempts": "2"])
        #expect(profile == RetryConfiguration(mode: .adaptive, maxAttempts: 2))
        #expect(try RetryConfiguration.resolve(environment: ["AWS_RETRY_MODE": "legacy"]).mode == .standard)
    }

    @Test func invalidValuesAreNamed() {
        #expect(throws: RetryConfiguration.InvalidValue.self) {
            try RetryConfiguration.resolve(environment: ["AWS_RETRY_MODE": "sometimes"])
        }
        do {
            _ = try RetryConfiguration.resolve(environment: ["AWS_MAX_ATTEMPTS": "0"])
            Issue.record("0 attempts accepted")
        } catch {
            #expect(error.description.contains("AWS_MAX_ATTEMPTS=0"))
        }
    }
}

@Suite struct AdaptiveLimiterTests {
    @Test func cubicReproducesTheWorkedExample() {
        var cubic = CubicCalculator(startTime: 0)
        let dropped = cubic.errorReceived(currentRate: 10, at: 0)
        #expect(abs(dropped - 7.0) < 1e-9)
        #expect(abs(cubic.k - cbrt(7.5)) < 1e-9)
        #expect(abs(cubic.successReceived(at: 0) - 7.0) < 1e-9)
        #expect(abs(cubic.successReceived(at: 1) - 9.65) < 0.01)
        #expect(abs(cubic.successReceived(at: cbrt(7.5)) - 10.0) < 1e-9)
        #expect(abs(cubic.successReceived(at: cbrt(7.5) + 1) - 10.4) < 1e-9)
    }

    @Test func disabledUntilTheFirstThrottleThenPaced() async throws {
        let time = FakeTime()
        time.now.withLock { $0 = 1000 }
        let limiter = AdaptiveRateLimiter(clock: time.clock, sleep: time.sleep)
        // 10 requests a second for 3 seconds, all successes: no pacing
        for _ in 0..<30 {
            try await limiter.acquire()
            limiter.update(throttled: false)
            time.advance(0.1)
        }
        #expect(!limiter.isEnabled)
        #expect(time.recorded.isEmpty)
        #expect(abs(limiter.measuredRate - 10) < 0.5)
        limiter.update(throttled: true)
        #expect(limiter.isEnabled)
        #expect(abs(limiter.fillRate - 0.7 * limiter.measuredRate) < 0.5)
        // now every acquire is paced at the fill rate: the bucket holds at most 7 tokens (one
        // second's worth), so 20 tokens take about (20 - 7) / 7 s of fake time
        let start = time.clock()
        for _ in 0..<20 { try await limiter.acquire() }
        let elapsed = time.clock() - start
        #expect(elapsed > 1.6 && elapsed < 2.2)
    }

    @Test func rateNeverExceedsTwiceTheMeasuredRate() {
        let time = FakeTime()
        let limiter = AdaptiveRateLimiter(clock: time.clock, sleep: time.sleep)
        for _ in 0..<10 {
            limiter.update(throttled: false)
            time.advance(0.5)
        }
        limiter.update(throttled: true)
        for _ in 0..<40 {
            time.advance(0.5)
            limiter.update(throttled: false)
            #expect(limiter.fillRate <= max(AdaptiveRateLimiter.minFillRate, 2 * limiter.measuredRate) + 1e-9)
        }
    }

    @Test func fillRateNeverDropsBelowTheMinimum() {
        let time = FakeTime()
        let limiter = AdaptiveRateLimiter(clock: time.clock, sleep: time.sleep)
        for _ in 0..<5 {
            limiter.update(throttled: true)
            time.advance(10)
        }
        #expect(limiter.fillRate >= AdaptiveRateLimiter.minFillRate)
    }
}
