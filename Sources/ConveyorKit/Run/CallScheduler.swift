import AWSCore
import Dispatch
import Foundation

/// What the pacing policy says about the next call.
public enum PacingDecision: Sendable, Equatable {
    case admit
    /// Not before this time (seconds on the scheduler's clock).
    case waitUntil(Double)
    /// Wait for a call in flight to finish.
    case blocked
}

/// The outcome of a model call, as pacing needs it.
public enum CallOutcome: Sendable, Equatable {
    case success(usedTokens: Double)
    /// The service's message tells a request-rate throttle from a token-rate one.
    case throttled(message: String?)
    case failed
}

/// A pacing policy: concurrency, request rate and token rate. Used only on the scheduler's queue.
public protocol CallPacing: AnyObject {
    func decide(now: Double, reservedTokens: Double) -> PacingDecision
    /// Returns an opaque ticket for `completed`.
    func admitted(now: Double, reservedTokens: Double) -> Int
    func completed(ticket: Int, now: Double, outcome: CallOutcome)
    /// The delay before retry `attempt` (2, 3, …) of a call that failed with `outcome`.
    func retryDelay(attempt: Int, outcome: CallOutcome, suggested: Double?) -> Double
    var inFlight: Int { get }
    /// For progress lines: the current limits.
    var summary: String { get }
}

/// The pool's heart: one serial queue owns the pacing state and the queue of calls waiting to
/// be admitted; item tasks ask it for permission before each model call and tell it the outcome.
/// A DispatchSourceTimer wakes it when a paced call may go; no thread waits on anything.
public final class CallScheduler: @unchecked Sendable {
    // Invariant: every stored property below is read and written on `queue` only.
    let queue = EventQueues.serial("conveyor.scheduler")
    private let pacing: any CallPacing
    private let clock: @Sendable () -> Double
    private var waiting: [Waiter] = []
    private var timer: (any DispatchSourceTimer)?
    private var timerDeadline: Double?
    private var closed = false
    private var nextWaiterID = 0
    /// Until one item has succeeded end to end (call and output write), one item at a time is
    /// let through: a missing model, a refused permission or an unwritable output then costs
    /// one call, not a pool of them.
    private var probing: Bool
    private var probeOwner: Int?

    struct Waiter {
        var id: Int
        var owner: Int
        var notBefore: Double
        var reservedTokens: Double
        var continuation: CheckedContinuation<Ticket?, Never>
    }

    /// Permission for one call; give it back with `finish`.
    public struct Ticket: Sendable {
        let id: Int
        public let admittedAt: Double
    }

    /// - Parameter probe: false admits calls as the pacing allows from the first one, without
    ///   waiting for an item to succeed (`limits.probe: false`).
    public init(pacing: any CallPacing, probe: Bool = true, clock: @escaping @Sendable () -> Double) {
        self.pacing = pacing
        self.clock = clock
        probing = probe
    }

    /// Suspends until the call may go, no earlier than `notBefore`. Returns nil when the
    /// scheduler was closed (the run is stopping): the call must not be made. `owner` names the
    /// item (its index), so that its retries pass while it is the probe.
    public func admit(reservedTokens: Double, notBefore: Double = 0, owner: Int = 0) async -> Ticket? {
        await withCheckedContinuation { continuation in
            queue.async {
                if self.closed {
                    continuation.resume(returning: nil)
                    return
                }
                self.nextWaiterID += 1
                self.waiting.append(Waiter(id: self.nextWaiterID, owner: owner, notBefore: notBefore,
                                           reservedTokens: reservedTokens, continuation: continuation))
                self.pump()
            }
        }
    }

    /// Tells the scheduler how an item that made calls ended: the first success opens the pool;
    /// a failure lets the next item try.
    public func itemFinished(owner: Int, succeeded: Bool) {
        queue.async {
            guard self.probing, self.probeOwner == owner else { return }
            if succeeded { self.probing = false }
            self.probeOwner = nil
            self.pump()
        }
    }

    /// Reports the outcome of an admitted call.
    public func finish(_ ticket: Ticket, outcome: CallOutcome) {
        queue.async {
            self.pacing.completed(ticket: ticket.id, now: self.clock(), outcome: outcome)
            self.pump()
        }
    }

    /// The delay before another attempt, from the pacing policy.
    public func retryDelay(attempt: Int, outcome: CallOutcome, suggested: Double?) async -> Double {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.pacing.retryDelay(attempt: attempt, outcome: outcome, suggested: suggested)) }
        }
    }

    /// Stops admitting: every waiter (now and later) gets nil.
    public func close() {
        queue.async {
            self.closed = true
            let all = self.waiting
            self.waiting = []
            for waiter in all { waiter.continuation.resume(returning: nil) }
            self.timer?.cancel()
            self.timer = nil
        }
    }

    /// A line for progress: in flight and the pacing limits.
    public func snapshot() async -> (inFlight: Int, waiting: Int, summary: String) {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: (self.pacing.inFlight, self.waiting.count, self.pacing.summary)) }
        }
    }

    /// Admits waiters in order while the pacing allows; arms the timer for the earliest time
    /// something may change.
    private func pump() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !closed else { return }
        let now = clock()
        var wakeAt: Double?
        // earliest-eligible first, keeping arrival order among those eligible
        var index = 0
        while index < waiting.count {
            let waiter = waiting[index]
            if probing, let probe = probeOwner, probe != waiter.owner {
                index += 1
                continue
            }
            if waiter.notBefore > now {
                wakeAt = min(wakeAt ?? .infinity, waiter.notBefore)
                index += 1
                continue
            }
            switch pacing.decide(now: now, reservedTokens: waiter.reservedTokens) {
            case .admit:
                if probing { probeOwner = waiter.owner }
                let id = pacing.admitted(now: now, reservedTokens: waiter.reservedTokens)
                waiting.remove(at: index)
                waiter.continuation.resume(returning: Ticket(id: id, admittedAt: now))
            case .waitUntil(let time):
                wakeAt = min(wakeAt ?? .infinity, time)
                index = waiting.count  // order is kept: the head waits, the rest wait behind it
            case .blocked:
                index = waiting.count
            }
        }
        arm(wakeAt)
    }

    private func arm(_ deadline: Double?) {
        guard let deadline, deadline.isFinite else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= deadline, timer != nil { return }
        timer?.cancel()
        let source = DispatchSource.makeTimerSource(queue: queue)
        let delay = max(0, deadline - clock())
        source.schedule(deadline: .now() + .microseconds(Int(delay * 1_000_000)), leeway: .milliseconds(1))
        source.setEventHandler { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.timerDeadline = nil
            self.pump()
        }
        source.resume()
        timer = source
        timerDeadline = deadline
    }
}

/// The simplest pacing: a concurrency cap, and backoff with full jitter for retries.
public final class ConcurrencyPacing: CallPacing {
    public var limit: Int
    public private(set) var inFlight = 0
    var nextTicket = 0

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public func decide(now: Double, reservedTokens: Double) -> PacingDecision {
        inFlight < limit ? .admit : .blocked
    }

    public func admitted(now: Double, reservedTokens: Double) -> Int {
        inFlight += 1
        nextTicket += 1
        return nextTicket
    }

    public func completed(ticket: Int, now: Double, outcome: CallOutcome) {
        inFlight -= 1
    }

    public func retryDelay(attempt: Int, outcome: CallOutcome, suggested: Double?) -> Double {
        let base = min(pow(2, Double(attempt - 2)), 20)
        let jittered = Double.random(in: 0..<1) * base
        return max(jittered, suggested ?? 0)
    }

    public var summary: String { "concurrency \(limit)" }
}
