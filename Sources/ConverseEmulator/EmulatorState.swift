import AWSCore
import Foundation
import Synchronization

/// Counters the emulator reports at `GET /__stats`.
public struct EmulatorStats: Sendable, Equatable {
    public var calls = 0
    public var accepted = 0
    public var throttled = 0
    public var throttledRequests = 0
    public var throttledTokens = 0
    public var faults = 0
    public var drops = 0
    public var validationErrors = 0
    public var signatureErrors = 0
    public var directedErrors = 0
    public var inFlight = 0
    public var maxInFlight = 0
    public var inputTokens = 0
    public var outputTokens = 0
    /// Batch inference jobs created (a resubmitted clientRequestToken creates none).
    public var batchJobs = 0

    public var json: [String: Int] {
        ["calls": calls, "accepted": accepted, "throttled": throttled, "throttledRequests": throttledRequests,
         "throttledTokens": throttledTokens, "faults": faults, "drops": drops, "validationErrors": validationErrors,
         "signatureErrors": signatureErrors, "directedErrors": directedErrors, "inFlight": inFlight,
         "maxInFlight": maxInFlight, "inputTokens": inputTokens, "outputTokens": outputTokens,
         "batchJobs": batchJobs]
    }
}

/// The emulator's shared state: quota buckets, counters and the random draws, behind one lock.
final class EmulatorState: Sendable {
    struct Inner {
        var quotas: QuotaBuckets
        var stats = EmulatorStats()
        var random: SplitMix64
    }

    let configuration: EmulatorConfiguration
    let inner: Mutex<Inner>
    let clock: @Sendable () -> Double
    let batchJobs: BatchJobStore

    init(configuration: EmulatorConfiguration, clock: @escaping @Sendable () -> Double) {
        self.configuration = configuration
        batchJobs = BatchJobStore(settings: configuration.batch, defaultMaxTokens: configuration.defaultMaxTokens)
        self.clock = clock
        inner = Mutex(Inner(quotas: Self.buckets(configuration, now: clock()), random: SplitMix64(seed: configuration.seed)))
    }

    static func buckets(_ c: EmulatorConfiguration, now: Double) -> QuotaBuckets {
        QuotaBuckets(requestsPerMinute: c.requestsPerMinute, tokensPerMinute: c.tokensPerMinute,
                     burstSeconds: c.burstSeconds, now: now)
    }

    func reset() {
        let now = clock()
        inner.withLock { s in
            s.quotas = Self.buckets(configuration, now: now)
            s.stats = EmulatorStats()
            s.random = SplitMix64(seed: configuration.seed)
        }
    }

    var stats: EmulatorStats {
        var stats = inner.withLock { $0.stats }
        stats.batchJobs = batchJobs.created
        return stats
    }

    func update(_ body: (inout EmulatorStats) -> Void) { inner.withLock { body(&$0.stats) } }

    /// Three uniform draws in [0, 1): fault, drop, jitter.
    func draws() -> (fault: Double, drop: Double, jitter: Double) {
        inner.withLock { s in (s.random.nextUnit(), s.random.nextUnit(), s.random.nextUnit()) }
    }

    func admit(reservedTokens: Double) -> QuotaBuckets.Verdict {
        let now = clock()
        return inner.withLock { s in
            s.stats.calls += 1
            let verdict = s.quotas.admit(reservedTokens: reservedTokens, now: now)
            switch verdict {
            case .admitted:
                s.stats.inFlight += 1
                s.stats.maxInFlight = max(s.stats.maxInFlight, s.stats.inFlight)
            case .tooManyRequests:
                s.stats.throttled += 1
                s.stats.throttledRequests += 1
            case .tooManyTokens:
                s.stats.throttled += 1
                s.stats.throttledTokens += 1
            }
            return verdict
        }
    }

    func finish(reservedTokens: Double, usedTokens: Double, outcome: (inout EmulatorStats) -> Void) {
        let now = clock()
        inner.withLock { s in
            s.quotas.settle(reservedTokens: reservedTokens, usedTokens: usedTokens, now: now)
            s.stats.inFlight -= 1
            outcome(&s.stats)
        }
    }
}


