import AWSCore
import Foundation

/// A run's figures as monitoring systems read them: Prometheus gauges for node_exporter's
/// textfile collector, and CloudWatch Embedded Metric Format (EMF) objects for the JSON log.
///
/// Prometheus gets the run's totals so far (every write replaces the file). EMF gets, in each
/// line, what happened since the run's previous line, so that CloudWatch's `Sum` over any period
/// is exact however many lines a run writes; the run's duration and outcome come in its last line.
public struct RunMetrics: Sendable, Equatable {
    /// How a run ended: its exit code, and its report's status when it wrote one.
    public struct Ending: Sendable, Equatable {
        public var exitCode: Int32
        public var status: RunReport.Status?

        public init(exitCode: Int32, status: RunReport.Status?) {
            self.exitCode = exitCode
            self.status = status
        }
    }

    public var job: String
    public var shard: Shard?
    public var runId: String
    public var startedAt: Date
    /// When these figures were taken (the run's end, for the last).
    public var at: Date
    public var counts: RunStats.Snapshot
    /// Nil while the run goes on.
    public var ending: Ending?
    /// The end of the latest run of the job (and shard) that exited 0: this one, if it did, else
    /// the one before, as the previous metrics file said; nil when unknown.
    public var lastSuccess: Date?

    /// Seconds from the start to `at`, or as the report says.
    public var durationSeconds: Double

    public init(job: String, shard: Shard?, runId: String, startedAt: Date, at: Date, durationSeconds: Double? = nil,
                counts: RunStats.Snapshot, ending: Ending? = nil, lastSuccess: Date?) {
        self.durationSeconds = durationSeconds ?? max(0, at.timeIntervalSince(startedAt))
        self.job = job
        self.shard = shard
        self.runId = runId
        self.startedAt = startedAt
        self.at = at
        self.counts = counts
        self.ending = ending
        self.lastSuccess = lastSuccess
    }

    public static let namespace = "Conveyor"

    // MARK: Prometheus

    public static let jobLabel = "conveyor_job"
    public static let shardLabel = "shard"
    public static let lastSuccessName = "conveyor_last_success_time_seconds"

    /// `conveyor_job` (not `job`, which Prometheus sets to the scrape job and would rename
    /// ours `exported_job`), and `shard` (`I/N`) for a sharded run.
    public var labels: [(name: String, value: String)] {
        [(Self.jobLabel, job)] + (shard.map { [(Self.shardLabel, $0.description)] } ?? [])
    }

    public var prometheusFamilies: [PrometheusText.Family] {
        func gauge(_ name: String, _ help: String, _ values: [(extra: (name: String, value: String)?, value: Double)])
            -> PrometheusText.Family
        {
            PrometheusText.Family(name: name, help: help, type: .gauge, samples: values.map { v in
                PrometheusText.Sample(name: name, labels: labels + (v.extra.map { [$0] } ?? []), value: v.value)
            })
        }
        func gauge(_ name: String, _ help: String, _ value: Double) -> PrometheusText.Family {
            gauge(name, help, [(nil, value)])
        }
        var families = [
            gauge("conveyor_run_in_progress", "1 while a run of the job is going, 0 once it has ended.", ending == nil ? 1 : 0),
            gauge("conveyor_run_start_time_seconds", "Start of the latest run, in seconds since the Unix epoch.",
                  startedAt.timeIntervalSince1970.rounded(.down)),
            gauge("conveyor_run_duration_seconds", "Seconds the latest run has taken so far, or took.",
                  RunReport.rounded(durationSeconds, places: 3)),
            gauge("conveyor_run_items", "Items of the latest run that have ended, by status.", [
                (("status", "succeeded"), Double(counts.succeeded)), (("status", "failed"), Double(counts.failed)),
                (("status", "skipped"), Double(counts.skipped)),
            ]),
            gauge("conveyor_run_tokens", "Tokens of the latest run's model calls, by kind (input, output).", [
                (("kind", "input"), Double(counts.inputTokens)), (("kind", "output"), Double(counts.outputTokens)),
            ]),
            gauge("conveyor_run_estimated_cost_usd", "Estimated cost of the latest run's model calls, in US dollars.",
                  RunReport.rounded(counts.costUSD, places: 6)),
            gauge("conveyor_run_model_calls", "Model calls of the latest run, throttled and retried ones included.",
                  Double(counts.attempts)),
            gauge("conveyor_run_throttles", "Model calls of the latest run answered with a throttling error.",
                  Double(counts.throttled)),
            gauge("conveyor_run_retries", "Model calls of the latest run beyond each item's first.", Double(counts.retried)),
        ]
        if let ending {
            families.append(gauge("conveyor_run_exit_code",
                                  "Exit code of the latest run that ended: 0 succeeded, 1 items failed, 2 invalid, 4 aborted, 130 interrupted.",
                                  Double(ending.exitCode)))
        }
        if let lastSuccess {
            families.append(gauge(Self.lastSuccessName,
                                  "End of the latest run that exited 0, in seconds since the Unix epoch; kept across failed runs.",
                                  lastSuccess.timeIntervalSince1970.rounded(.down)))
        }
        return families
    }

    /// The textfile's content.
    public var prometheusText: String { PrometheusText.render(prometheusFamilies) }

    // MARK: CloudWatch Embedded Metric Format

    /// The EMF members of one log line: `_aws` (timestamp and metric directive), the dimensions
    /// `Job` (and `Shard`), the metrics, and properties for Logs Insights (`RunId`; at the end
    /// `Status` and `ExitCode`).
    ///
    /// - Parameter previous: the counts of the run's previous line (nil for its first): the
    ///   count metrics are the differences.
    public func embeddedMetricFormat(since previous: RunStats.Snapshot?) -> JSONObject {
        let before = previous ?? RunStats.Snapshot()
        var metrics: [(name: String, unit: String, value: JSONValue)] = [
            ("ItemsSucceeded", "Count", .integer(Int64(counts.succeeded - before.succeeded))),
            ("ItemsFailed", "Count", .integer(Int64(counts.failed - before.failed))),
            ("ItemsSkipped", "Count", .integer(Int64(counts.skipped - before.skipped))),
            ("InputTokens", "Count", .integer(Int64(counts.inputTokens - before.inputTokens))),
            ("OutputTokens", "Count", .integer(Int64(counts.outputTokens - before.outputTokens))),
            ("EstimatedCostUSD", "None", .double(RunReport.rounded(counts.costUSD - before.costUSD, places: 6))),
            ("ModelCalls", "Count", .integer(Int64(counts.attempts - before.attempts))),
            ("Throttles", "Count", .integer(Int64(counts.throttled - before.throttled))),
            ("Retries", "Count", .integer(Int64(counts.retried - before.retried))),
        ]
        if let ending {
            metrics.append(("DurationSeconds", "Seconds", .double(RunReport.rounded(durationSeconds, places: 3))))
            metrics.append(("RunSucceeded", "Count", .integer(ending.exitCode == 0 ? 1 : 0)))
        }
        if let lastSuccess {
            metrics.append(("LastSuccessTime", "None", .integer(Int64(lastSuccess.timeIntervalSince1970.rounded(.down)))))
        }
        var dimensions: [JSONValue] = [["Job"]]
        if shard != nil { dimensions.append(["Job", "Shard"]) }
        var o = JSONObject()
        o["_aws"] = .object([
            "Timestamp": .integer(Int64((at.timeIntervalSince1970 * 1000).rounded(.down))),
            "CloudWatchMetrics": [.object([
                "Namespace": .string(Self.namespace),
                "Dimensions": .array(dimensions),
                "Metrics": .array(metrics.map { .object(["Name": .string($0.name), "Unit": .string($0.unit)]) }),
            ])],
        ])
        o["Job"] = .string(job)
        if let shard { o["Shard"] = .string(shard.description) }
        o["RunId"] = .string(runId)
        for metric in metrics { o[metric.name] = metric.value }
        if let ending {
            if let status = ending.status { o["Status"] = .string(status.rawValue) }
            o["ExitCode"] = .integer(Int64(ending.exitCode))
        }
        return o
    }
}

extension RunStats.Snapshot {
    /// A finished run's figures, from its report.
    public init(_ report: RunReport) {
        self.init()
        succeeded = report.counts.succeeded
        failed = report.counts.failed
        skipped = report.counts.skipped
        inputTokens = report.usage.inputTokens
        outputTokens = report.usage.outputTokens
        costUSD = report.estimatedCostUSD
        attempts = report.calls.attempts
        throttled = report.calls.throttled
        retried = report.calls.retried
    }
}
