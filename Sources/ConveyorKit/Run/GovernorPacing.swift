import Foundation

/// The rate governor behind the scheduler's pacing interface: concurrency, the job's
/// requests- and tokens-per-minute caps, and the rates learned from throttles.
public final class GovernorPacing: CallPacing {
    public let governor: RateGovernor
    private var tickets: [Int: RateGovernor.Ticket] = [:]
    private var next = 0
    private let clock: () -> Double

    public init(configuration: GovernorConfiguration, clock: @escaping () -> Double) {
        self.clock = clock
        governor = RateGovernor(configuration: configuration, now: clock())
    }

    public func decide(now: Double, reservedTokens: Double) -> PacingDecision {
        switch governor.decide(now: now, reservedTokens: reservedTokens) {
        case .admit: return .admit
        case .waitUntil(let time): return .waitUntil(time)
        case .blockedOnConcurrency: return .blocked
        }
    }

    public func admitted(now: Double, reservedTokens: Double) -> Int {
        next += 1
        tickets[next] = governor.admitted(now: now, reservedTokens: reservedTokens)
        return next
    }

    public func completed(ticket: Int, now: Double, outcome: CallOutcome) {
        guard let t = tickets.removeValue(forKey: ticket) else { return }
        governor.completed(t, now: now, outcome: Self.map(outcome))
    }

    public func retryDelay(attempt: Int, outcome: CallOutcome, suggested: Double?) -> Double {
        max(governor.retryDelay(attempt: attempt - 1, after: Self.map(outcome)), suggested ?? 0)
    }

    public var inFlight: Int { governor.inFlight }

    public var summary: String {
        let f = governor.figures(now: clock())
        var parts = ["concurrency \(f.concurrencyLimit)"]
        if let rate = f.rateLimit { parts.append(String(format: "%.1f calls/s", rate)) }
        if let tokens = f.learnedTokenRate { parts.append(String(format: "%.0f tokens/s", tokens)) }
        return parts.joined(separator: ", ")
    }

    static func map(_ outcome: CallOutcome) -> RateGovernor.Outcome {
        switch outcome {
        case .success(let used): return .success(usedTokens: used)
        case .throttled(let message): return .throttled(RateGovernor.ThrottleKind(message: message))
        case .failed: return .failed
        }
    }
}
