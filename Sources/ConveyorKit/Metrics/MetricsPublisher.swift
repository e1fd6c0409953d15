import AWSCore
import Foundation
import Logging
import Synchronization

/// Publishes a run's ``RunMetrics`` while it goes and when it ends: to a Prometheus textfile
/// (`--metrics-file`, replaced atomically: a temporary file in the same directory renamed over
/// it) and as CloudWatch EMF lines in the JSON log (`--log-format json`).
///
/// The file is written when the run has its lock (``start(snapshot:)``), every `interval`, and at
/// the end (``finish(_:)``); EMF lines every `interval` and at the end. The last success time is
/// read back from the existing file at the start, so a run that fails keeps the previous one.
public final class MetricsPublisher: Sendable {
    public struct Options: Sendable {
        /// The Prometheus textfile, or nil.
        public var file: String?
        /// Whether to write EMF lines (the log is JSON).
        public var embeddedMetricFormat: Bool
        /// Between two publications during the run.
        public var interval: Duration

        public init(file: String?, embeddedMetricFormat: Bool, interval: Duration = .seconds(60)) {
            self.file = file
            self.embeddedMetricFormat = embeddedMetricFormat
            self.interval = interval
        }

        public var isEnabled: Bool { file != nil || embeddedMetricFormat }
    }

    struct State {
        /// The counts of the previous EMF line.
        var emitted: RunStats.Snapshot?
        var ticker: Task<Void, Never>?
        var started = false
        var finished = false
    }

    public let options: Options
    let job: String
    let shard: Shard?
    let identity: RunIdentity
    let logger: Logger
    let emit: @Sendable (JSONObject) -> Void
    /// Read from the file at the start.
    public let previousLastSuccess: Date?
    private let state = Mutex(State())

    /// Checks the file's directory (a ``ConfigurationError`` when it cannot be written: exit 2,
    /// before anything runs) and reads the last success time from the file, if there is one.
    ///
    /// - Parameter emit: writes one EMF object as a log line.
    public init(options: Options, job: String, shard: Shard?, identity: RunIdentity, logger: Logger,
                emit: @escaping @Sendable (JSONObject) -> Void = { ConveyorLogHandler.writeJSON($0, message: "metrics") })
        throws(ConfigurationError)
    {
        self.options = options
        self.job = job
        self.shard = shard
        self.identity = identity
        self.logger = logger
        self.emit = emit
        var previous: Date?
        if let file = options.file {
            try Self.checkWritable(file)
            let (date, warning) = Self.lastSuccess(inFile: file, job: job, shard: shard)
            if let warning { logger.warning("\(warning)") }
            previous = date
        }
        previousLastSuccess = previous
    }

    /// The file must be a path to a file whose directory exists (or can be made) and is writable.
    static func checkWritable(_ file: String) throws(ConfigurationError) {
        guard !file.isEmpty, !file.hasSuffix("/") else {
            throw ConfigurationError("--metrics-file '\(file)' is not a file name; give a path such as /var/lib/node_exporter/textfile/JOB.prom")
        }
        if FileManager.default.isDirectory(file) {
            throw ConfigurationError("--metrics-file '\(file)' is a directory; give a file in it, such as \(file)/JOB.prom")
        }
        // the nearest existing ancestor decides: the missing folders are made at the first write
        var directory = (file as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = "." }
        while !FileManager.default.fileExists(atPath: directory) {
            let parent = (directory as NSString).deletingLastPathComponent
            if parent.isEmpty || parent == directory { directory = "."; break }
            directory = parent
        }
        guard FileManager.default.isDirectory(directory) else {
            throw ConfigurationError("--metrics-file '\(file)': \(directory) is not a directory")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw ConfigurationError("--metrics-file '\(file)': cannot write in \(directory) (\(String(cString: strerror(errno)))); choose a writable directory or fix its permissions")
        }
    }

    /// The last success time in an existing metrics file for this job (and shard), and a warning
    /// when the file cannot be read or belongs to another job. A missing file is no warning.
    static func lastSuccess(inFile file: String, job: String, shard: Shard?) -> (Date?, warning: String?) {
        guard FileManager.default.fileExists(atPath: file) else { return (nil, nil) }
        let notCarried = "the last success time is not carried over"
        guard let data = FileManager.default.contents(atPath: file) else {
            return (nil, "metrics file \(file) cannot be read; \(notCarried)")
        }
        let families: [PrometheusText.Family]
        do {
            families = try PrometheusText.parse(String(decoding: data, as: UTF8.self))
        } catch {
            return (nil, "metrics file \(file): \(error); \(notCarried) (the file is replaced at the end of the run)")
        }
        let mine = RunMetrics(job: job, shard: shard, runId: "", startedAt: Date(), at: Date(), counts: RunStats.Snapshot(), lastSuccess: nil)
            .labels.map { "\($0.name)=\($0.value)" }
        var others: Set<String> = []
        var found: Date?
        for family in families {
            for sample in family.samples {
                let labels = sample.labels.filter { $0.name == RunMetrics.jobLabel || $0.name == RunMetrics.shardLabel }
                    .map { "\($0.name)=\($0.value)" }
                guard labels == mine else {
                    others.insert(labels.joined(separator: ","))
                    continue
                }
                if sample.name == RunMetrics.lastSuccessName, sample.value.isFinite, sample.value > 0 {
                    found = Date(timeIntervalSince1970: sample.value)
                }
            }
        }
        if !others.isEmpty {
            return (found, "metrics file \(file) also holds metrics of \(others.sorted().joined(separator: "; ")), which this run replaces: give each job (and shard) its own file")
        }
        return (found, nil)
    }

    /// Publishes the first figures (the file only) and then every `interval` until ``finish(_:)``.
    ///
    /// - Parameter snapshot: the run's counts so far.
    public func start(snapshot: @escaping @Sendable () -> RunStats.Snapshot) {
        guard options.isEnabled else { return }
        state.withLock { $0.started = true }
        publish(metrics(snapshot(), at: Date(), ending: nil), emf: false)
        let interval = options.interval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self, !Task.isCancelled else { return }
                self.publish(self.metrics(snapshot(), at: Date(), ending: nil), emf: true)
            }
        }
        let keep = state.withLock { s -> Bool in
            guard !s.finished else { return false }
            s.ticker = task
            return true
        }
        if !keep { task.cancel() }
    }

    /// Publishes the run's last figures, from its report, and stops the periodic ones.
    public func finish(_ report: RunReport) {
        finish(counts: RunStats.Snapshot(report), at: report.finishedAt, durationSeconds: report.durationSeconds,
               ending: RunMetrics.Ending(exitCode: report.exitCode, status: report.status))
    }

    /// The same for a run that ended without a report (a configuration error found once it had
    /// started: exit 2). Nothing when the run never started (a held lock: the holder publishes).
    public func finish(counts: RunStats.Snapshot, at: Date, durationSeconds: Double? = nil, ending: RunMetrics.Ending) {
        guard options.isEnabled else { return }
        let (started, ticker) = state.withLock { s -> (Bool, Task<Void, Never>?) in
            s.finished = true
            defer { s.ticker = nil }
            return (s.started, s.ticker)
        }
        ticker?.cancel()
        guard started else { return }
        publish(metrics(counts, at: at, durationSeconds: durationSeconds, ending: ending), emf: true)
    }

    func metrics(_ counts: RunStats.Snapshot, at: Date, durationSeconds: Double? = nil, ending: RunMetrics.Ending?) -> RunMetrics {
        // a detached batch run (exit 0) has not succeeded yet: its collect may
        let lastSuccess = ending?.exitCode == 0 && ending?.status != .detached ? at : previousLastSuccess
        return RunMetrics(job: job, shard: shard, runId: identity.id, startedAt: identity.startedAt, at: at,
                          durationSeconds: durationSeconds, counts: counts, ending: ending, lastSuccess: lastSuccess)
    }

    /// Writes the file and, when `emf`, one EMF line. One publication at a time, so that lines
    /// and files follow each other in order.
    func publish(_ metrics: RunMetrics, emf: Bool) {
        state.withLock { s in
            if s.finished && metrics.ending == nil { return }
            if let file = options.file {
                do {
                    _ = try LocalFiles.write(file, data: Data(metrics.prometheusText.utf8), ifAbsent: false)
                } catch {
                    logger.error("the metrics file could not be written: \(error)")
                }
            }
            if emf && options.embeddedMetricFormat {
                emit(metrics.embeddedMetricFormat(since: s.emitted))
                s.emitted = metrics.counts
            }
        }
    }
}
