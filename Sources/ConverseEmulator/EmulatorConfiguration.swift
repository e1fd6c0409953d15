import Foundation

/// How the emulator behaves: its quotas, latency and faults.
public struct EmulatorConfiguration: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 0
    /// Requests per minute; nil for no request quota.
    public var requestsPerMinute: Double?
    /// Tokens per minute (input + output × burndown); nil for no token quota.
    public var tokensPerMinute: Double?
    /// How many seconds of quota a bucket holds (the burst allowance).
    public var burstSeconds: Double = 1
    /// Output tokens count this many times against the token quota (Claude 4: 5).
    public var burndown: Double = 1
    /// Mean latency of a call in milliseconds, before the per-token part.
    public var latencyMs: Double = 0
    /// Extra milliseconds per output token.
    public var msPerOutputToken: Double = 0
    /// The latency varies by up to this fraction either way (deterministic per request).
    public var jitter: Double = 0.2
    /// Fraction of calls answered with a 500, 503 or 408 error.
    public var faultRate: Double = 0
    /// Fraction of calls whose connection is closed in the middle of the response.
    public var dropRate: Double = 0
    /// When both are set, every request must carry a valid SigV4 signature with these keys.
    public var accessKey: String?
    public var secretKey: String?
    /// maxTokens when the request does not say (the model's maximum).
    public var defaultMaxTokens: Int = 4096
    /// Seed of the fault and jitter draws, so that a run can be repeated.
    public var seed: UInt64 = 1
    /// Bedrock's batch inference control plane (BatchJobs.swift).
    public var batch = BatchEmulation()

    public init() {}
}
