import Synchronization

/// botocore's retry quota: a client-wide bucket of 500 tokens. A retry costs 5 (10 after a
/// timeout); when the bucket cannot pay, the error is returned instead of retried. A success
/// gives back what its last retry cost, or 1 when it needed none.
public final class RetryQuota: Sendable {
    public static let initialCapacity = 500
    public static let retryCost = 5
    public static let timeoutRetryCost = 10
    public static let noRetryIncrement = 1

    private let state: Mutex<Int>
    public let maxCapacity: Int

    public init(capacity: Int = RetryQuota.initialCapacity) {
        state = Mutex(capacity)
        maxCapacity = capacity
    }

    public var available: Int { state.withLock { $0 } }

    /// Takes the cost of one retry; nil when the quota cannot pay it.
    public func acquire(afterTimeout: Bool) -> Int? {
        let cost = afterTimeout ? Self.timeoutRetryCost : Self.retryCost
        return state.withLock { capacity in
            guard capacity >= cost else { return nil }
            capacity -= cost
            return cost
        }
    }

    /// Returns tokens after a successful call: the amount its last retry took, or 1.
    public func release(_ amount: Int?) {
        let give = amount ?? Self.noRetryIncrement
        state.withLock { $0 = min(maxCapacity, $0 + give) }
    }
}
