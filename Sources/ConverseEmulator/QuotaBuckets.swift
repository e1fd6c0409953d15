import Foundation

/// Bedrock's on-demand quotas as token buckets: requests per minute and tokens per minute, each
/// holding `burst` seconds of quota and refilled continuously. A call reserves one request and
/// its input tokens plus `maxTokens × burndown` at admission; when it completes, the part of the
/// reservation it did not use goes back.
public struct QuotaBuckets: Sendable {
    struct Bucket: Sendable {
        let ratePerSecond: Double
        let capacity: Double
        var level: Double
        var updated: Double

        init(perMinute: Double, burstSeconds: Double, now: Double) {
            ratePerSecond = perMinute / 60
            capacity = max(1, perMinute / 60 * burstSeconds)
            level = capacity
            updated = now
        }

        mutating func refill(_ now: Double) {
            if now > updated {
                level = min(capacity, level + (now - updated) * ratePerSecond)
                updated = now
            }
        }
    }

    var requests: Bucket?
    var tokens: Bucket?

    public init(requestsPerMinute: Double?, tokensPerMinute: Double?, burstSeconds: Double, now: Double) {
        requests = requestsPerMinute.map { Bucket(perMinute: $0, burstSeconds: burstSeconds, now: now) }
        tokens = tokensPerMinute.map { Bucket(perMinute: $0, burstSeconds: burstSeconds, now: now) }
    }

    public enum Verdict: Sendable, Equatable {
        case admitted
        case tooManyRequests
        case tooManyTokens
    }

    /// Admits a call reserving `reservedTokens`, or says which quota it would exceed. A
    /// reservation larger than the whole bucket is admitted when the bucket is full (and leaves
    /// it in debt), so that large calls are slowed, not refused forever.
    public mutating func admit(reservedTokens: Double, now: Double) -> Verdict {
        requests?.refill(now)
        tokens?.refill(now)
        if let r = requests, r.level < 1 { return .tooManyRequests }
        if let t = tokens, t.level < min(reservedTokens, t.capacity) { return .tooManyTokens }
        requests?.level -= 1
        tokens?.level -= reservedTokens
        return .admitted
    }

    /// Gives back the unused part of a reservation.
    public mutating func settle(reservedTokens: Double, usedTokens: Double, now: Double) {
        tokens?.refill(now)
        if var t = tokens {
            t.level = min(t.capacity, t.level + max(0, reservedTokens - usedTokens))
            tokens = t
        }
    }

    /// Seconds until a call reserving `reservedTokens` could be admitted (for Retry-After hints).
    public func waitEstimate(reservedTokens: Double) -> Double {
        var wait = 0.0
        if let r = requests, r.level < 1 { wait = max(wait, (1 - r.level) / r.ratePerSecond) }
        if let t = tokens {
            let need = min(reservedTokens, t.capacity)
            if t.level < need { wait = max(wait, (need - t.level) / t.ratePerSecond) }
        }
        return wait
    }
}
