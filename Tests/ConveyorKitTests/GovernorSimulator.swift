import AWSCore
import ConverseEmulator
import Foundation
@testable import ConveyorKit

/// A deterministic, event-driven simulation of the runner against Bedrock's quota, in virtual
/// time: no threads, no sleeping, no wall clock.
///
/// - Server: the emulator's own `QuotaBuckets` (token buckets holding `burst` seconds of RPM and
///   TPM, reserving input + maxTokens × burndown at admission, refunding the unused part at
///   completion). A refused call is answered 429 after `throttleLatency` with the emulator's
///   message; an admitted one after `latency × (1 ± jitter)`, drawn from a seeded generator.
/// - Runner: the scheduler loop the governor is written for: on every event (completion, retry
///   due, timer) it offers retries first, then new items, to `decide`, sends what is admitted,
///   arms one timer for `.waitUntil`, and waits for a completion on `.blockedOnConcurrency`.
///   Throttled calls come back after `retryDelay`, up to `maxAttempts`.
struct GovernorSimulation {
    struct Scenario: Sendable {
        var name: String
        var items: Int
        /// The server's (Bedrock's) quotas.
        var rpm: Double?
        var tpm: Double?
        var burst: Double = 2
        var latency: Double
        var jitter: Double = 0
        var throttleLatency: Double = 0.005
        var concurrency: Int
        /// What the job tells the client (nil: quota unknown).
        var clientRPM: Double?
        var clientTPM: Double?
        var clientBurst: Double = 1
        var maxTokens = 256
        var burndown = 1.0
        var inputTokens: ClosedRange<Int> = 100...100
        var outputTokens: ClosedRange<Int> = 100...100
        var maxAttempts = 10
        /// At `at` seconds the server's quotas are multiplied by `factor`; its buckets restart
        /// empty (the client was running at the quota, so the old ones were about empty too).
        var quotaChange: (at: Double, factor: Double)?
        var seed: UInt64 = 42
    }

    struct Result: Sendable {
        var scenario: String
        /// nil for the oracle bound.
        var algorithm: GovernorConfiguration.Algorithm?
        var time: Double
        var ideal: Double
        var ratio: Double { time / ideal }
        var throttles: Int
        var decreases: Int
        /// Calls the server admitted per second over the steady window, as a fraction of the
        /// quota's call rate then.
        var steadyRate: Double
        var steadyWindow: ClosedRange<Double>
        var maxInFlight: Int
        var maxConcurrencyLimitSeen: Int
        var succeeded: Int
        var failedItems: Int
        var attempts: Int
        /// The most attempts any one item took.
        var maxItemAttempts: Int
        var finalRate: Double?
        var admissionsBeyondCap: Int
        /// When each 429 was answered.
        var throttleTimes: [Double]

        func throttles(after t: Double) -> Int { throttleTimes.filter { $0 > t }.count }
    }

    struct Item {
        var input: Int
        var output: Int
        var attempts = 0
        var done = false
    }

    enum EventKind {
        case completion(item: Int, ticket: RateGovernor.Ticket, outcome: RateGovernor.Outcome)
        case retryDue(item: Int)
        case wake
        case quotaChange
    }

    struct Event {
        var time: Double
        var sequence: Int
        var kind: EventKind
        func precedes(_ other: Event) -> Bool {
            time != other.time ? time < other.time : sequence < other.sequence
        }
    }

    let scenario: Scenario
    let configuration: GovernorConfiguration
    /// A bound rather than a client: send a call exactly when the server's buckets would admit
    /// it (asking a copy of them), up to the concurrency cap. No real client knows this; it shows
    /// how much of `ideal` the quota's own arithmetic permits, which matters where `ideal` is
    /// approximate (token quotas, whose reservations are larger than what calls use).
    var oracle = false
    /// Called after every completion with the time, the governor's figures and the outcome.
    var trace: ((Double, RateGovernor.Figures, RateGovernor.Outcome) -> Void)?

    init(_ scenario: Scenario, algorithm: GovernorConfiguration.Algorithm,
         tune: (inout GovernorConfiguration) -> Void = { _ in }) {
        self.scenario = scenario
        var c = GovernorConfiguration(concurrency: scenario.concurrency, requestsPerMinute: scenario.clientRPM,
                                      tokensPerMinute: scenario.clientTPM, burstSeconds: scenario.clientBurst,
                                      burndown: scenario.burndown, maxTokens: scenario.maxTokens,
                                      maxAttempts: scenario.maxAttempts, algorithm: algorithm)
        tune(&c)
        configuration = c
    }

    /// The items' token counts, drawn from the seed.
    func makeItems() -> [Item] {
        var rng = SplitMix64(seed: scenario.seed &+ 1000)
        return (0..<scenario.items).map { _ in
            Item(input: rng.int(in: scenario.inputTokens), output: rng.int(in: scenario.outputTokens))
        }
    }

    /// The quota as calls a second and the burst allowance in calls (the buckets' initial
    /// contents), for the mean call of this scenario; the binding quota wins.
    func callQuota(items: [Item], factor: Double = 1) -> (rate: Double, burst: Double) {
        let meanUse = items.map { Double($0.input) + Double($0.output) * scenario.burndown }
            .reduce(0, +) / Double(max(1, items.count))
        var best: (rate: Double, burst: Double)?
        if let rpm = scenario.rpm {
            let r = rpm * factor / 60
            best = (r, max(1, r * scenario.burst))
        }
        if let tpm = scenario.tpm {
            let perSecond = tpm * factor / 60
            let r = perSecond / meanUse
            let b = max(1, perSecond * scenario.burst) / meanUse
            if best.map({ r < $0.rate }) ?? true { best = (r, b) }
        }
        return best ?? (.infinity, .infinity)
    }

    /// ideal = (items − burst allowance) / rate + latency, with the quota change if any.
    func ideal(items: [Item]) -> Double {
        let q = callQuota(items: items)
        let n = Double(items.count)
        var admitLast = max(0, (n - q.burst) / q.rate)
        if let change = scenario.quotaChange, admitLast > change.at {
            let q2 = callQuota(items: items, factor: change.factor)
            let byChange = q.burst + q.rate * change.at
            admitLast = change.at + (n - byChange) / q2.rate
        }
        return admitLast + scenario.latency
    }

    func run() -> Result {
        var items = makeItems()
        var rng = SplitMix64(seed: scenario.seed)
        var jitterRNG = SplitMix64(seed: scenario.seed &+ 7)
        let governor = RateGovernor(configuration: configuration, now: 0, random: { jitterRNG.nextUnit() })
        func buckets(_ factor: Double, now: Double) -> QuotaBuckets {
            QuotaBuckets(requestsPerMinute: scenario.rpm.map { $0 * factor },
                         tokensPerMinute: scenario.tpm.map { $0 * factor }, burstSeconds: scenario.burst, now: now)
        }
        var server = buckets(1, now: 0)

        var heap = EventHeap()
        var sequence = 0
        func schedule(_ time: Double, _ kind: EventKind) {
            sequence += 1
            heap.push(Event(time: time, sequence: sequence, kind: kind))
        }
        if let change = scenario.quotaChange { schedule(change.at, .quotaChange) }

        var nextNew = 0
        var retryQueue: [Int] = []
        var retryHead = 0
        var armed: Double?
        var now = 0.0
        var finished = 0
        var failedItems = 0
        var lastCompletion = 0.0
        var admissions: [Double] = []  // server-admitted calls
        var maxInFlight = 0
        var maxLimit = 0
        var attempts = 0
        var beyondCap = 0
        var throttleTimes: [Double] = []

        func pump() {
            while true {
                let index: Int
                let isRetry: Bool
                if retryHead < retryQueue.count {
                    index = retryQueue[retryHead]
                    isRetry = true
                } else if nextNew < items.count {
                    index = nextNew
                    isRetry = false
                } else {
                    return
                }
                let reserved = configuration.reservation(inputTokens: items[index].input)
                let decision: RateGovernor.Decision
                if oracle {
                    var probe = server  // a copy: asking it changes nothing
                    if governor.inFlight >= configuration.concurrency {
                        decision = .blockedOnConcurrency
                    } else if probe.admit(reservedTokens: reserved, now: now) == .admitted {
                        decision = .admit
                    } else {
                        decision = .waitUntil(now + max(1e-6, probe.waitEstimate(reservedTokens: reserved)))
                    }
                } else {
                    decision = governor.decide(now: now, reservedTokens: reserved)
                }
                switch decision {
                case .blockedOnConcurrency:
                    return
                case .waitUntil(let t):
                    precondition(t > now, "waitUntil must lie in the future")
                    if armed == nil || armed! > t || armed! <= now {
                        armed = t
                        schedule(t, .wake)
                    }
                    return
                case .admit:
                    if isRetry { retryHead += 1 } else { nextNew += 1 }
                    let ticket = governor.admitted(now: now, reservedTokens: reserved)
                    attempts += 1
                    items[index].attempts += 1
                    if governor.inFlight > configuration.concurrency { beyondCap += 1 }
                    maxInFlight = max(maxInFlight, governor.inFlight)
                    maxLimit = max(maxLimit, governor.concurrencyLimit)
                    switch server.admit(reservedTokens: reserved, now: now) {
                    case .admitted:
                        admissions.append(now)
                        let used = configuration.usage(inputTokens: items[index].input,
                                                       outputTokens: items[index].output)
                        let latency = scenario.latency * (1 + scenario.jitter * (2 * rng.nextUnit() - 1))
                        schedule(now + max(0.001, latency),
                                 .completion(item: index, ticket: ticket, outcome: .success(usedTokens: used)))
                    case .tooManyRequests:
                        schedule(now + scenario.throttleLatency, .completion(
                            item: index, ticket: ticket,
                            outcome: .throttled(.init(message: "Too many requests, please wait before trying again."))))
                    case .tooManyTokens:
                        schedule(now + scenario.throttleLatency, .completion(
                            item: index, ticket: ticket,
                            outcome: .throttled(.init(message: "Too many tokens, please wait before trying again."))))
                    }
                }
            }
        }

        pump()
        while let event = heap.pop() {
            now = event.time
            switch event.kind {
            case .wake:
                if armed == now { armed = nil }
            case .quotaChange:
                server = buckets(scenario.quotaChange!.factor, now: now)
                // restart empty: spend the new buckets' initial contents
                var guardCount = 0
                while guardCount < 1_000_000,
                      server.admit(reservedTokens: scenario.tpm == nil ? 0 : 1, now: now) == .admitted {
                    guardCount += 1
                }
            case .retryDue(let index):
                retryQueue.append(index)
            case .completion(let index, let ticket, let outcome):
                if case .success(let used) = outcome {
                    server.settle(reservedTokens: ticket.reservedTokens, usedTokens: used, now: now)
                }
                governor.completed(ticket, now: now, outcome: outcome)
                trace?(now, governor.figures(now: now), outcome)
                if case .throttled = outcome { throttleTimes.append(now) }
                switch outcome {
                case .success:
                    items[index].done = true
                    finished += 1
                    lastCompletion = now
                case .throttled, .failed:
                    if items[index].attempts >= configuration.maxAttempts {
                        failedItems += 1
                        finished += 1
                        lastCompletion = now
                    } else {
                        schedule(now + governor.retryDelay(attempt: items[index].attempts, after: outcome),
                                 .retryDue(item: index))
                    }
                }
            }
            pump()
            if finished == items.count && heap.isEmpty { break }
        }

        let idealTime = ideal(items: items)
        let lastAdmission = admissions.last ?? 0
        var from = lastAdmission * 0.25
        var factor = 1.0
        if let change = scenario.quotaChange {
            from = max(from, change.at + 10)
            factor = change.factor
        }
        let to = max(from + 1e-9, lastAdmission * 0.95)
        let inWindow = admissions.filter { $0 >= from && $0 < to }.count
        let steady = Double(inWindow) / (to - from) / callQuota(items: items, factor: factor).rate
        let figures = governor.figures(now: now)
        return Result(scenario: scenario.name, algorithm: oracle ? nil : configuration.algorithm, time: lastCompletion,
                      ideal: idealTime, throttles: figures.throttles, decreases: figures.congestionEvents,
                      steadyRate: steady, steadyWindow: from...to, maxInFlight: maxInFlight,
                      maxConcurrencyLimitSeen: maxLimit, succeeded: figures.succeeded, failedItems: failedItems,
                      attempts: attempts, maxItemAttempts: items.map(\.attempts).max() ?? 0,
                      finalRate: figures.learnedRate, admissionsBeyondCap: beyondCap, throttleTimes: throttleTimes)
    }
}

/// The simulation's draws: AWSCore's SplitMix64, and a whole number by the draw's remainder (kept
/// as it was, so that the recorded figures repeat).
extension SplitMix64 {
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}

/// A binary min-heap of events by (time, sequence).
struct EventHeap {
    private var storage: [GovernorSimulation.Event] = []
    var isEmpty: Bool { storage.isEmpty }

    mutating func push(_ e: GovernorSimulation.Event) {
        storage.append(e)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard storage[i].precedes(storage[parent]) else { break }
            storage.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> GovernorSimulation.Event? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let top = storage.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < storage.count, storage[l].precedes(storage[m]) { m = l }
            if r < storage.count, storage[r].precedes(storage[m]) { m = r }
            if m == i { break }
            storage.swapAt(i, m)
            i = m
        }
        return top
    }
}

extension GovernorSimulation.Result {
    static let tableHeader = "| scenario | algorithm | time (s) | ideal (s) | time/ideal | throttles | decreases "
        + "| steady rate / quota | max in flight | max attempts/item | failed items |\n"
        + "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

    var tableRow: String {
        func f(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
        let name = algorithm?.rawValue ?? "oracle bound"
        let events = algorithm == nil ? "–" : String(decreases)
        return "| \(scenario) | \(name) | \(f(time)) | \(f(ideal)) | \(f(ratio, 3)) | \(throttles) | \(events) | "
            + "\(f(steadyRate, 3)) | \(maxInFlight) | \(maxItemAttempts) | \(failedItems) |"
    }
}
