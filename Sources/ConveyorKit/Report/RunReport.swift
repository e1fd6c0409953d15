import AWSCore
import Foundation

/// The run report: the JSON written at the job's `report` location when a run ends, in the
/// contract's field names and nesting (reportVersion 1). Fields beyond the contract are
/// extensions: added, never changing the contract's.
public struct RunReport: Sendable, Equatable {
    public static let currentVersion = 1
    /// The failures listed in full; the rest are counted in ``failuresTruncated``.
    public static let defaultFailureLimit = 1000

    public enum Status: String, Sendable, Equatable, CaseIterable {
        case succeeded, partial, failed, aborted, interrupted
        /// Engine batch with --detach: the batch jobs are submitted; `conveyor collect` finishes the run.
        case detached

        /// The process's exit code for a run that ended so (the contract's exit codes).
        public var exitCode: Int32 {
            switch self {
            case .succeeded, .detached: return 0
            case .partial, .failed: return 1
            case .aborted: return 4
            case .interrupted: return 130
            }
        }

        /// The status by the contract's rules: aborted or interrupted when the run was stopped;
        /// otherwise succeeded when nothing failed (skipped items and empty runs included),
        /// failed when items failed and none succeeded, partial when some of each.
        public static func resolve(succeeded: Int, failed: Int, ending: RunEnding) -> Status {
            switch ending {
            case .aborted: return .aborted
            case .interrupted: return .interrupted
            case .completed:
                if failed == 0 { return .succeeded }
                return succeeded == 0 ? .failed : .partial
            }
        }
    }

    public enum AbortReason: String, Sendable, Equatable, CaseIterable {
        /// More items failed than `limits.maxFailures` allows.
        case maxFailures
        /// The next calls would have passed `limits.budgetUSD`.
        case budget
        /// An error no item can get past (access denied on the output bucket, a lost lock, ...).
        case fatal
    }

    public struct Counts: Sendable, Equatable {
        /// Items known to the run: at least succeeded + failed + skipped; more when the run
        /// stopped before reaching them all.
        public var total: Int
        public var succeeded: Int
        public var failed: Int
        public var skipped: Int
        public init(total: Int = 0, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0) {
            self.total = total
            self.succeeded = succeeded
            self.failed = failed
            self.skipped = skipped
        }
        /// Items that ended one way or another.
        public var finished: Int { succeeded + failed + skipped }
        /// Items never reached (an aborted or interrupted run).
        public var notRun: Int { Swift.max(0, total - finished) }
    }

    public struct Usage: Sendable, Equatable {
        public var inputTokens: Int
        public var outputTokens: Int
        public init(inputTokens: Int = 0, outputTokens: Int = 0) {
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
        }
    }

    public struct Calls: Sendable, Equatable {
        /// Model calls made, throttled ones included.
        public var attempts: Int
        /// Calls answered with a throttling error.
        public var throttled: Int
        /// Calls beyond each item's first, after a throttle or a transient error.
        public var retried: Int
        /// Extension: follow-up calls after answers that did not fit `output.schema` (not in `retried`).
        public var schemaRetries: Int
        public init(attempts: Int = 0, throttled: Int = 0, retried: Int = 0, schemaRetries: Int = 0) {
            self.attempts = attempts
            self.throttled = throttled
            self.retried = retried
            self.schemaRetries = schemaRetries
        }
    }

    /// Item latency percentiles in milliseconds; nil when no item was timed.
    public struct Latency: Sendable, Equatable {
        public var p50: Int?
        public var p90: Int?
        public var p99: Int?
        /// Extension: the slowest item.
        public var max: Int?
        public init(p50: Int? = nil, p90: Int? = nil, p99: Int? = nil, max: Int? = nil) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.max = max
        }
        public init(_ histogram: LatencyHistogram) {
            self.init(p50: histogram.percentile(50).map(Int.init), p90: histogram.percentile(90).map(Int.init),
                      p99: histogram.percentile(99).map(Int.init), max: histogram.isEmpty ? nil : Int(histogram.max))
        }
    }

    public struct Failure: Sendable, Equatable {
        public var id: String
        public var input: String?
        public var code: String
        public var message: String
        public init(id: String, input: String?, code: String, message: String) {
            self.id = id
            self.input = input
            self.code = code
            self.message = message
        }
    }

    /// Extension: failures by code, counted over all failed items (not only the listed ones),
    /// with one example.
    public struct FailureCode: Sendable, Equatable {
        public var code: String
        public var count: Int
        public var exampleId: String
        public var exampleMessage: String
        public init(code: String, count: Int, exampleId: String, exampleMessage: String) {
            self.code = code
            self.count = count
            self.exampleId = exampleId
            self.exampleMessage = exampleMessage
        }
    }

    /// Extension, in merged reports: one entry per report merged.
    public struct Part: Sendable, Equatable {
        public var runId: String
        public var shard: Shard?
        public var status: Status
        public init(runId: String, shard: Shard?, status: Status) {
            self.runId = runId
            self.shard = shard
            self.status = status
        }
    }

    // The contract's fields
    public var reportVersion: Int = RunReport.currentVersion
    public var job: String
    public var runId: String
    public var dryRun: Bool
    public var status: Status
    public var startedAt: Date
    public var finishedAt: Date
    public var durationSeconds: Double
    public var model: String
    public var counts: Counts
    public var usage: Usage
    public var calls: Calls
    public var latencyMs: Latency
    public var estimatedCostUSD: Double
    public var failures: [Failure]
    /// The item manifest's URI (nil when none was written: a dry run, a merged report of several).
    public var manifest: String?

    // Extensions
    /// Failures not listed in ``failures`` (beyond the cap).
    public var failuresTruncated: Int = 0
    public var failureCodes: [FailureCode] = []
    public var abortReason: AbortReason?
    public var abortMessage: String?
    public var shard: Shard?
    public var conveyorVersion: String?
    public var host: String?
    /// The report whose failed items this run retried (`--retry-failed`).
    public var previousReport: String?
    /// `--retry-failed`: how many failed items of the previous report the inputs no longer
    /// hold, and the first ``defaultFailureLimit`` of their ids.
    public var retryNotFound: Int = 0
    public var retryNotFoundIds: [String] = []
    /// Engine batch: the ARNs of the run's Bedrock batch jobs.
    public var batchJobs: [String]?
    /// The latency histogram's non-empty buckets, so that shard reports merge exactly.
    public var latencyHistogram: LatencyHistogram?
    /// Merged reports: every part's manifest, and the parts.
    public var manifests: [String]?
    public var mergedFrom: [Part]?
    /// Merged reports whose parts carried no histogram: the percentiles are estimates.
    public var latencyApproximate: Bool = false

    public init(job: String, runId: String, dryRun: Bool = false, status: Status, startedAt: Date, finishedAt: Date,
                durationSeconds: Double? = nil, model: String, counts: Counts, usage: Usage = Usage(),
                calls: Calls = Calls(), latencyMs: Latency = Latency(), estimatedCostUSD: Double = 0,
                failures: [Failure] = [], manifest: String? = nil) {
        self.job = job
        self.runId = runId
        self.dryRun = dryRun
        self.status = status
        // times are written to the second; the duration keeps milliseconds
        self.startedAt = Date(timeIntervalSince1970: startedAt.timeIntervalSince1970.rounded(.down))
        self.finishedAt = Date(timeIntervalSince1970: finishedAt.timeIntervalSince1970.rounded(.down))
        // rounded as the JSON writes them, so that a report reads back equal
        self.durationSeconds = Self.rounded(durationSeconds ?? Swift.max(0, finishedAt.timeIntervalSince(startedAt)), places: 3)
        self.model = model
        self.counts = counts
        self.usage = usage
        self.calls = calls
        self.latencyMs = latencyMs
        self.estimatedCostUSD = Self.rounded(estimatedCostUSD, places: 6)
        self.failures = failures
        self.manifest = manifest
    }

    /// The exit code the run ends with (extension `exitCode`).
    public var exitCode: Int32 { status.exitCode }

    /// Items (succeeded, failed or skipped) per second of the run.
    public var itemsPerSecond: Double? {
        durationSeconds > 0 ? Double(counts.finished) / durationSeconds : nil
    }

    public var outputTokensPerSecond: Double? {
        durationSeconds > 0 ? Double(usage.outputTokens) / durationSeconds : nil
    }
}

/// How a run ended, as the runner tells ``RunStats``.
public enum RunEnding: Sendable, Equatable {
    /// Every item was taken to its end.
    case completed
    /// Stopped early (exit 4).
    case aborted(RunReport.AbortReason, message: String)
    /// SIGINT or SIGTERM (exit 130).
    case interrupted(message: String?)
}

/// A report that cannot be read.
public struct RunReportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: JSON

extension RunReport {
    static func timestamp(_ date: Date) -> String { RunIdentity.iso8601(date) }

    static func parseTimestamp(_ text: String) -> Date? { Timestamp.parseISO8601(text) }

    /// Rounds away binary noise (1.2300000000000002) for people reading the file.
    static func decimal(_ value: Double, places: Int) -> JSONValue {
        guard value.isFinite else { return .null }
        return .double(rounded(value, places: places))
    }

    static func rounded(_ value: Double, places: Int) -> Double {
        guard value.isFinite else { return value }
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }

    static func int(_ value: Int?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
    static func string(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    /// The report as JSON: the contract's members first, in its order, then the extensions.
    public var json: JSONValue {
        var o = JSONObject()
        o["reportVersion"] = .integer(Int64(reportVersion))
        o["job"] = .string(job)
        o["runId"] = .string(runId)
        o["dryRun"] = .bool(dryRun)
        o["status"] = .string(status.rawValue)
        o["startedAt"] = .string(Self.timestamp(startedAt))
        o["finishedAt"] = .string(Self.timestamp(finishedAt))
        o["durationSeconds"] = Self.decimal(durationSeconds, places: 3)
        o["model"] = .string(model)
        o["counts"] = .object(["total": Self.int(counts.total), "succeeded": Self.int(counts.succeeded),
                               "failed": Self.int(counts.failed), "skipped": Self.int(counts.skipped)])
        o["usage"] = .object(["inputTokens": Self.int(usage.inputTokens), "outputTokens": Self.int(usage.outputTokens)])
        var callsObject: JSONObject = ["attempts": Self.int(calls.attempts), "throttled": Self.int(calls.throttled),
                                       "retried": Self.int(calls.retried)]
        if calls.schemaRetries > 0 { callsObject["schemaRetries"] = Self.int(calls.schemaRetries) }
        o["calls"] = .object(callsObject)
        o["latencyMs"] = .object(["p50": Self.int(latencyMs.p50), "p90": Self.int(latencyMs.p90),
                                  "p99": Self.int(latencyMs.p99), "max": Self.int(latencyMs.max)])
        o["estimatedCostUSD"] = Self.decimal(estimatedCostUSD, places: 6)
        o["failures"] = .array(failures.map { f in
            .object(["id": .string(f.id), "input": Self.string(f.input), "code": .string(f.code), "message": .string(f.message)])
        })
        o["manifest"] = Self.string(manifest)
        // extensions
        o["failuresTruncated"] = Self.int(failuresTruncated)
        o["failureCodes"] = .array(failureCodes.map { c in
            .object(["code": .string(c.code), "count": Self.int(c.count), "exampleId": .string(c.exampleId),
                     "exampleMessage": .string(c.exampleMessage)])
        })
        o["abortReason"] = Self.string(abortReason?.rawValue)
        o["abortMessage"] = Self.string(abortMessage)
        o["exitCode"] = .integer(Int64(exitCode))
        o["shard"] = shard.map { .object(["index": Self.int($0.index), "count": Self.int($0.count)]) } ?? .null
        o["conveyorVersion"] = Self.string(conveyorVersion)
        o["host"] = Self.string(host)
        o["previousReport"] = Self.string(previousReport)
        if previousReport != nil {
            o["retryNotFound"] = .object(["count": Self.int(retryNotFound),
                                          "ids": .array(retryNotFoundIds.map(JSONValue.string))])
        }
        o["throughput"] = .object([
            "itemsPerSecond": itemsPerSecond.map { Self.decimal($0, places: 3) } ?? .null,
            "outputTokensPerSecond": outputTokensPerSecond.map { Self.decimal($0, places: 1) } ?? .null,
        ])
        if let manifests { o["manifests"] = .array(manifests.map(JSONValue.string)) }
        if let batchJobs { o["batchJobs"] = .array(batchJobs.map(JSONValue.string)) }
        if let mergedFrom {
            o["mergedFrom"] = .array(mergedFrom.map { part in
                .object(["runId": .string(part.runId),
                         "shard": part.shard.map { .object(["index": Self.int($0.index), "count": Self.int($0.count)]) } ?? .null,
                         "status": .string(part.status.rawValue)])
            })
        }
        if latencyApproximate { o["latencyApproximate"] = .bool(true) }
        if let h = latencyHistogram {
            o["latencyHistogram"] = .object([
                "unit": "ms", "layout": "log-linear, 128 sub-buckets per power of two",
                "count": .integer(h.count), "min": h.isEmpty ? .null : .integer(h.min), "max": .integer(h.max),
                "sum": .integer(h.sum),
                "buckets": .array(h.buckets.map { .array([.integer($0.value), .integer($0.count)]) }),
            ])
        }
        return .object(o)
    }

    /// The report file's bytes: indented JSON and a final newline.
    public func encoded() -> Data {
        Data((PrettyJSON.format(json) + "\n").utf8)
    }

    /// Reads a report. Unknown members are ignored (newer versions add some); the contract's
    /// identifying members (`reportVersion`, `job`, `runId`, `status`, `startedAt`, `finishedAt`,
    /// `counts`) are required and checked, with an error naming the member; the others default.
    public static func load(from data: Data) throws(RunReportError) -> RunReport {
        let value: JSONValue
        do {
            value = try JSONValue.parse(data)
        } catch {
            throw RunReportError("the report is not valid JSON: \(error)")
        }
        guard let o = value.objectValue else { throw RunReportError("the report is not a JSON object") }
        var reader = Reader(object: o, path: "")
        guard let version = try reader.int("reportVersion", required: true) else { throw RunReportError("unreachable") }
        guard version >= 1 else { throw RunReportError("\"reportVersion\" is \(version); 1 is the first version") }
        guard version <= currentVersion else {
            throw RunReportError("\"reportVersion\" is \(version): the report was written by a newer conveyor (this one reads version \(currentVersion))")
        }
        let job = try reader.string("job", required: true)!
        let runId = try reader.string("runId", required: true)!
        let statusText = try reader.string("status", required: true)!
        guard let status = Status(rawValue: statusText) else {
            throw RunReportError("\"status\" is \"\(statusText)\"; expected one of \(Status.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let startedAt = try reader.date("startedAt", required: true)!
        let finishedAt = try reader.date("finishedAt", required: true)!
        var countsReader = try reader.object("counts", required: true)!
        let counts = Counts(total: try countsReader.int("total", required: true)!,
                            succeeded: try countsReader.int("succeeded", required: true)!,
                            failed: try countsReader.int("failed", required: true)!,
                            skipped: try countsReader.int("skipped", required: true)!)
        var report = RunReport(job: job, runId: runId, dryRun: try reader.bool("dryRun") ?? false, status: status,
                               startedAt: startedAt, finishedAt: finishedAt,
                               durationSeconds: try reader.double("durationSeconds"),
                               model: try reader.string("model") ?? "", counts: counts)
        report.reportVersion = version
        if var u = try reader.object("usage") {
            report.usage = Usage(inputTokens: try u.int("inputTokens") ?? 0, outputTokens: try u.int("outputTokens") ?? 0)
        }
        if var c = try reader.object("calls") {
            report.calls = Calls(attempts: try c.int("attempts") ?? 0, throttled: try c.int("throttled") ?? 0,
                                 retried: try c.int("retried") ?? 0, schemaRetries: try c.int("schemaRetries") ?? 0)
        }
        if var l = try reader.object("latencyMs") {
            report.latencyMs = Latency(p50: try l.int("p50"), p90: try l.int("p90"), p99: try l.int("p99"), max: try l.int("max"))
        }
        report.estimatedCostUSD = try reader.double("estimatedCostUSD") ?? 0
        report.failures = try reader.objects("failures").map { (f: Reader) throws(RunReportError) -> Failure in
            var f = f
            return Failure(id: try f.string("id", required: true)!, input: try f.string("input"),
                           code: try f.string("code") ?? "", message: try f.string("message") ?? "")
        }
        report.manifest = try reader.string("manifest")
        report.failuresTruncated = try reader.int("failuresTruncated") ?? 0
        report.failureCodes = try reader.objects("failureCodes").map { (c: Reader) throws(RunReportError) -> FailureCode in
            var c = c
            return FailureCode(code: try c.string("code", required: true)!, count: try c.int("count") ?? 0,
                               exampleId: try c.string("exampleId") ?? "", exampleMessage: try c.string("exampleMessage") ?? "")
        }
        if let reason = try reader.string("abortReason") { report.abortReason = AbortReason(rawValue: reason) }
        report.abortMessage = try reader.string("abortMessage")
        if var s = try reader.object("shard"), let index = try s.int("index"), let count = try s.int("count") {
            report.shard = try? Shard(index: index, count: count)
        }
        report.conveyorVersion = try reader.string("conveyorVersion")
        report.host = try reader.string("host")
        report.previousReport = try reader.string("previousReport")
        if var r = try reader.object("retryNotFound") {
            report.retryNotFound = try r.int("count") ?? 0
            report.retryNotFoundIds = r.object["ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        if let list = o["manifests"]?.arrayValue { report.manifests = list.compactMap(\.stringValue) }
        if let list = o["batchJobs"]?.arrayValue { report.batchJobs = list.compactMap(\.stringValue) }
        if let parts = o["mergedFrom"]?.arrayValue {
            report.mergedFrom = parts.compactMap { part in
                guard let runId = part["runId"]?.stringValue, let status = part["status"]?.stringValue.flatMap(Status.init) else { return nil }
                var shard: Shard?
                if let index = part["shard"]?["index"]?.intValue, let count = part["shard"]?["count"]?.intValue {
                    shard = try? Shard(index: index, count: count)
                }
                return Part(runId: runId, shard: shard, status: status)
            }
        }
        report.latencyApproximate = try reader.bool("latencyApproximate") ?? false
        if var h = try reader.object("latencyHistogram") {
            var buckets: [(value: Int64, count: Int64)] = []
            for (i, pair) in (h.object["buckets"]?.arrayValue ?? []).enumerated() {
                guard let pair = pair.arrayValue, pair.count == 2, let value = pair[0].intValue, let count = pair[1].intValue,
                      value >= 0, count >= 0 else {
                    throw RunReportError("\"latencyHistogram.buckets[\(i)]\" must be [value, count], two whole numbers")
                }
                buckets.append((Int64(value), Int64(count)))
            }
            report.latencyHistogram = LatencyHistogram(buckets: buckets, min: try h.int("min").map(Int64.init),
                                                       max: try h.int("max").map(Int64.init), sum: try h.int("sum").map(Int64.init))
        }
        return report
    }

    /// Reads members with errors that name them (`counts.total must be a whole number`).
    struct Reader {
        let object: JSONObject
        let path: String

        func name(_ key: String) -> String { "\"\(path)\(key)\"" }

        func value(_ key: String, required: Bool) throws(RunReportError) -> JSONValue? {
            guard let value = object[key], value != .null else {
                if required { throw RunReportError("the report has no \(name(key))") }
                return nil
            }
            return value
        }

        mutating func string(_ key: String, required: Bool = false) throws(RunReportError) -> String? {
            guard let value = try value(key, required: required) else { return nil }
            guard let s = value.stringValue else { throw RunReportError("\(name(key)) must be a string") }
            return s
        }

        mutating func int(_ key: String, required: Bool = false) throws(RunReportError) -> Int? {
            guard let value = try value(key, required: required) else { return nil }
            guard let i = value.intValue else { throw RunReportError("\(name(key)) must be a whole number") }
            return i
        }

        mutating func double(_ key: String, required: Bool = false) throws(RunReportError) -> Double? {
            guard let value = try value(key, required: required) else { return nil }
            guard let d = value.doubleValue else { throw RunReportError("\(name(key)) must be a number") }
            return d
        }

        mutating func bool(_ key: String, required: Bool = false) throws(RunReportError) -> Bool? {
            guard let value = try value(key, required: required) else { return nil }
            guard let b = value.boolValue else { throw RunReportError("\(name(key)) must be true or false") }
            return b
        }

        mutating func date(_ key: String, required: Bool = false) throws(RunReportError) -> Date? {
            guard let text = try string(key, required: required) else { return nil }
            guard let date = RunReport.parseTimestamp(text) else {
                throw RunReportError("\(name(key)) is \"\(text)\", not an ISO 8601 time such as 2026-11-30T02:00:04Z")
            }
            return date
        }

        mutating func object(_ key: String, required: Bool = false) throws(RunReportError) -> Reader? {
            guard let value = try value(key, required: required) else { return nil }
            guard let o = value.objectValue else { throw RunReportError("\(name(key)) must be an object") }
            return Reader(object: o, path: path + key + ".")
        }

        func objects(_ key: String) throws(RunReportError) -> [Reader] {
            guard let value = try value(key, required: false) else { return [] }
            guard let list = value.arrayValue else { throw RunReportError("\(name(key)) must be a list") }
            var out: [Reader] = []
            for (i, element) in list.enumerated() {
                guard let o = element.objectValue else { throw RunReportError("\"\(path)\(key)[\(i)]\" must be an object") }
                out.append(Reader(object: o, path: "\(path)\(key)[\(i)]."))
            }
            return out
        }
    }
}

extension RunReport {
    /// Records the failed ids `--retry-failed` could not find in the inputs.
    public mutating func setRetryNotFound(_ ids: [String]) {
        retryNotFound = ids.count
        retryNotFoundIds = Array(ids.prefix(Self.defaultFailureLimit))
    }
}
