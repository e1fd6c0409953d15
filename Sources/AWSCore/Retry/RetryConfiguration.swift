import Foundation

/// How a client retries, configured as botocore's `Config(retries=…)`: a mode and a number of
/// total attempts (the first one included).
public struct RetryConfiguration: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// Backoff with full jitter capped at 20 s, and a retry quota shared by the client.
        case standard
        /// Standard plus a client-side rate limiter (CUBIC) fed by throttling errors.
        case adaptive
    }

    public var mode: Mode
    /// Total attempts per call, the first included; 1 disables retries.
    public var maxAttempts: Int
    /// The longest backoff between two attempts.
    public var maxBackoff: Duration

    public init(mode: Mode = .standard, maxAttempts: Int = 3, maxBackoff: Duration = .seconds(20)) {
        self.mode = mode
        self.maxAttempts = max(1, maxAttempts)
        self.maxBackoff = maxBackoff
    }

    /// No retries at all: for callers that own retrying themselves (the runner).
    public static let disabled = RetryConfiguration(mode: .standard, maxAttempts: 1)

    public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
        public var variable: String
        public var value: String
        public var expected: String
        public var description: String { "\(variable)=\(value) is not valid: expected \(expected)" }
    }

    /// Reads `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS`, then the profile's `retry_mode` and
    /// `max_attempts`, over `defaults`. `legacy` is accepted and treated as `standard` (the
    /// AWS SDKs' recommendation; legacy mode's uncapped backoff is not reproduced).
    public static func resolve(environment: [String: String], profile: [String: String] = [:],
                               defaults: RetryConfiguration = RetryConfiguration()) throws(InvalidValue)
        -> RetryConfiguration
    {
        var config = defaults
        let modeSource: (String, String)? = environment["AWS_RETRY_MODE"].map { ("AWS_RETRY_MODE", $0) }
            ?? profile["retry_mode"].map { ("retry_mode", $0) }
        if let (name, raw) = modeSource {
            switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
            case "standard", "legacy": config.mode = .standard
            case "adaptive": config.mode = .adaptive
            default: throw InvalidValue(variable: name, value: raw, expected: "standard, adaptive or legacy")
            }
        }
        let attemptsSource: (String, String)? = environment["AWS_MAX_ATTEMPTS"].map { ("AWS_MAX_ATTEMPTS", $0) }
            ?? profile["max_attempts"].map { ("max_attempts", $0) }
        if let (name, raw) = attemptsSource {
            guard let n = Int(raw.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw InvalidValue(variable: name, value: raw, expected: "a whole number of at least 1")
            }
            config.maxAttempts = n
        }
        return config
    }
}

/// Which failures are worth another attempt, as botocore's standard mode decides.
public enum RetryClassifier {
    public enum Verdict: Sendable, Equatable {
        case throttling
        case transient
        case doNotRetry
    }

    /// Codes retried as transient whatever their status.
    public static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"]
    /// Statuses retried as transient.
    public static let transientStatuses: Set<Int> = [500, 502, 503, 504]
    /// Errors whose service model marks them retryable but not throttling (Bedrock's
    /// ModelNotReadyException: "the SDK will retry").
    public static let modelledRetryableCodes: Set<String> = ["ModelNotReadyException"]
    /// botocore's special case (`retries/special.py`): STS's `IDPCommunicationError`, the identity
    /// provider behind `AssumeRoleWithWebIdentity` did not answer in time.
    public static let specialRetryableCodes: Set<String> = ["IDPCommunicationError"]

    public static func classify(_ error: AWSError) -> Verdict {
        if error.kind == .transport {
            return error.transportError?.isTransient == true ? .transient : .doNotRetry
        }
        if AWSError.throttlingCodes.contains(error.code) { return .throttling }
        if transientCodes.contains(error.code) || modelledRetryableCodes.contains(error.code)
            || specialRetryableCodes.contains(error.code) { return .transient }
        if let status = error.status, transientStatuses.contains(status) { return .transient }
        return .doNotRetry
    }
}
