import Foundation
import Synchronization

/// Counts a run as its items finish and makes its ``RunReport``.
///
/// Safe to call from any number of tasks; each ``record(_:)`` takes a lock for a few additions
/// and one histogram counter. Memory is bounded whatever the number of items: the failures kept
/// in full are capped (the first `failureLimit`), failure codes are counted per code (at most
/// `codeLimit` distinct codes, the rest under `(other codes)`), and latencies go into a
/// fixed-size ``LatencyHistogram``.
public final class RunStats: Sendable {
    /// The figures so far, for progress lines and the runner's limits (maxFailures, budget).
    public struct Snapshot: Sendable, Equatable {
        public var succeeded = 0
        public var failed = 0
        public var skipped = 0
        public var inputTokens = 0
        public var outputTokens = 0
        public var attempts = 0
        public var throttled = 0
        public var retried = 0
        public var schemaRetries = 0
        public var costUSD: Double = 0
        public var finished: Int { succeeded + failed + skipped }
        public init() {}
    }

    struct State {
        var snapshot = Snapshot()
        var total: Int?
        var histogram = LatencyHistogram()
        var failures: [RunReport.Failure] = []
        var failuresTruncated = 0
        var codes: [String: RunReport.FailureCode] = [:]
        var codeOrder: [String] = []
    }

    public static let otherCodes = "(other codes)"

    public let failureLimit: Int
    public let codeLimit: Int
    private let state = Mutex(State())

    public init(failureLimit: Int = RunReport.defaultFailureLimit, codeLimit: Int = 100) {
        self.failureLimit = max(0, failureLimit)
        self.codeLimit = max(1, codeLimit)
    }

    /// Counts one finished item.
    public func record(_ item: ItemRecord) {
        state.withLock { s in
            switch item.status {
            case .succeeded: s.snapshot.succeeded += 1
            case .failed: s.snapshot.failed += 1
            case .skipped: s.snapshot.skipped += 1
            }
            s.snapshot.inputTokens += item.inputTokens
            s.snapshot.outputTokens += item.outputTokens
            s.snapshot.attempts += item.attempts
            s.snapshot.throttled += item.throttled
            s.snapshot.retried += max(0, item.attempts - 1 - item.schemaRetries)
            s.snapshot.schemaRetries += item.schemaRetries
            if item.costUSD.isFinite { s.snapshot.costUSD += item.costUSD }
            if let latency = item.latencyMs, item.status != .skipped { s.histogram.record(milliseconds: latency) }
            guard item.status == .failed else { return }
            let error = item.error ?? ItemError(code: "Unknown", message: "the item failed")
            if s.failures.count < failureLimit {
                s.failures.append(RunReport.Failure(id: item.id, input: item.input, code: error.code, message: error.message))
            } else {
                s.failuresTruncated += 1
            }
            var code = error.code
            if s.codes[code] == nil && s.codes.count >= codeLimit { code = Self.otherCodes }
            if s.codes[code] == nil {
                s.codes[code] = RunReport.FailureCode(code: code, count: 0, exampleId: item.id, exampleMessage: error.message)
                s.codeOrder.append(code)
            }
            s.codes[code]!.count += 1
        }
    }

    /// The number of items in the run, once known (listing done); the report's `counts.total`
    /// is at least the number of items finished.
    public func setTotal(_ total: Int?) {
        state.withLock { $0.total = total }
    }

    public var snapshot: Snapshot { state.withLock { $0.snapshot } }

    /// The current latency histogram (a copy).
    public var latencies: LatencyHistogram { state.withLock { $0.histogram } }

    /// The run's report.
    ///
    /// - Parameters:
    ///   - run: what the runner knows of the run (job, id, model, start, ...).
    ///   - finishedAt: the end of the run.
    ///   - ending: completed, or why it stopped; decides the status with the counts.
    ///   - manifest: the manifest's URI, once uploaded.
    public func report(run: RunContext, finishedAt: Date, ending: RunEnding = .completed,
                       manifest: String? = nil) -> RunReport {
        let s = state.withLock { $0 }
        let counts = RunReport.Counts(total: max(s.total ?? 0, s.snapshot.finished), succeeded: s.snapshot.succeeded,
                                      failed: s.snapshot.failed, skipped: s.snapshot.skipped)
        var report = RunReport(
            job: run.job, runId: run.runId, dryRun: run.dryRun,
            status: .resolve(succeeded: counts.succeeded, failed: counts.failed, ending: ending),
            startedAt: run.startedAt, finishedAt: finishedAt, model: run.model, counts: counts,
            usage: RunReport.Usage(inputTokens: s.snapshot.inputTokens, outputTokens: s.snapshot.outputTokens),
            calls: RunReport.Calls(attempts: s.snapshot.attempts, throttled: s.snapshot.throttled, retried: s.snapshot.retried,
                                   schemaRetries: s.snapshot.schemaRetries),
            latencyMs: RunReport.Latency(s.histogram), estimatedCostUSD: s.snapshot.costUSD, failures: s.failures,
            manifest: manifest)
        report.failuresTruncated = s.failuresTruncated
        report.failureCodes = RunReport.sortedCodes(s.codeOrder.compactMap { s.codes[$0] })
        switch ending {
        case .completed: break
        case .aborted(let reason, let message):
            report.abortReason = reason
            report.abortMessage = message
        case .interrupted(let message):
            report.abortMessage = message
        }
        report.shard = run.shard
        report.conveyorVersion = run.conveyorVersion
        report.host = run.host
        report.previousReport = run.previousReport
        report.latencyHistogram = s.histogram
        return report
    }
}

/// What the runner knows of a run when it writes the report.
public struct RunContext: Sendable, Equatable {
    public var job: String
    public var runId: String
    public var model: String
    public var startedAt: Date
    public var dryRun: Bool
    public var shard: Shard?
    public var conveyorVersion: String?
    public var host: String?
    public var previousReport: String?

    public init(job: String, runId: String, model: String, startedAt: Date, dryRun: Bool = false, shard: Shard? = nil,
                conveyorVersion: String? = nil, host: String? = ProcessInfo.processInfo.hostName,
                previousReport: String? = nil) {
        self.job = job
        self.runId = runId
        self.model = model
        self.startedAt = startedAt
        self.dryRun = dryRun
        self.shard = shard
        self.conveyorVersion = conveyorVersion
        self.host = host
        self.previousReport = previousReport
    }

    public init(job: String, identity: RunIdentity, model: String, dryRun: Bool = false, shard: Shard? = nil,
                conveyorVersion: String? = nil, previousReport: String? = nil) {
        self.init(job: job, runId: identity.id, model: model, startedAt: identity.startedAt, dryRun: dryRun, shard: shard,
                  conveyorVersion: conveyorVersion, previousReport: previousReport)
    }
}

extension RunReport {
    /// Most frequent first; ties by code.
    static func sortedCodes(_ codes: [FailureCode]) -> [FailureCode] {
        codes.sorted { $0.count != $1.count ? $0.count > $1.count : $0.code < $1.code }
    }
}
