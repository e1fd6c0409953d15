import AWSServices
import Foundation

/// What happened to one item.
public struct ItemResult: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        case succeeded, failed, skipped
    }

    public var id: String
    public var index: Int
    public var input: String?
    public var output: String?
    public var status: Status
    public var attempts: Int
    public var throttles: Int
    public var latencyMs: Int?
    public var usage: TokenUsage?
    public var errorCode: String?
    public var errorMessage: String?
    /// Estimated USD of this item's calls.
    public var costUSD: Double
    /// Follow-up calls made because an answer did not fit `output.schema` (counted in `attempts` too).
    public var schemaRetries = 0

    public init(id: String, index: Int, input: String?, output: String?, status: Status, attempts: Int = 0,
                throttles: Int = 0, latencyMs: Int? = nil, usage: TokenUsage? = nil, errorCode: String? = nil,
                errorMessage: String? = nil, costUSD: Double = 0) {
        self.id = id
        self.index = index
        self.input = input
        self.output = output
        self.status = status
        self.attempts = attempts
        self.throttles = throttles
        self.latencyMs = latencyMs
        self.usage = usage
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.costUSD = costUSD
    }
}

extension ItemResult {
    /// This result, failed with `code` and `message`.
    func failed(_ code: String, _ message: String) -> ItemResult {
        var result = self
        result.status = .failed
        result.errorCode = code
        result.errorMessage = message
        return result
    }
}

/// Why a run stopped before its end.
public enum RunStopReason: Sendable, Equatable {
    /// `limits.maxFailures` was passed.
    case maxFailures(String)
    /// `limits.budgetUSD` would be passed.
    case budget(String)
    /// Something no item can get past: the model does not exist, the output bucket refuses
    /// writes, every item fails alike.
    case fatal(String)
    /// SIGINT or SIGTERM.
    case interrupted

    public var message: String {
        switch self {
        case .maxFailures(let m), .budget(let m), .fatal(let m): return m
        case .interrupted: return "interrupted by a signal"
        }
    }

    public var code: String {
        switch self {
        case .maxFailures: return "maxFailures"
        case .budget: return "budget"
        case .fatal: return "fatal"
        case .interrupted: return "interrupted"
        }
    }
}
