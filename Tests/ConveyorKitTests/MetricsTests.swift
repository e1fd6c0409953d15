import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor run --metrics-file` and the EMF lines of `--log-format json`, end to end through the
/// CLI against moto (behind the SigV4 proxy) and the emulator. The textfiles are read back by
/// prometheus_client's parser (Tests/servers/prometheus_parse.py) as well as Conveyor's own.
@Suite(.timeLimit(.minutes(5))) struct MetricsTests {
    static let job = "cli-metrics"

    func writeJob(_ dir: String, bucket: String, concurrency: Int = 2) throws -> String {
        let path = dir + "/metrics-job.yaml"
        try """
            version: 1
            name: \(Self.job)
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 40}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            limits: {concurrency: \(concurrency), maxAttempts: 2}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func seed(_ texts: [String]) async throws -> String {
        var objects: [String: String] = [:]
        for (i, text) in texts.enumerated() { objects[String(format: "in/t%03d.txt", i)] = text }
        return try await KitFixture.bucket(objects)
    }

    func environment(_ emulator: String) throws -> [String: String] {
        ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator]
    }

    /// The report of the run with this id.
    func report(_ bucket: String, runId: String) async throws -> RunReport {
        try #require(try await KitFixture.reports(bucket).first { $0.runId == runId }, "no report of \(runId)")
    }

    /// The newest report (run ids sort by start time).
    func latestReport(_ bucket: String) async throws -> RunReport {
        try #require(try await KitFixture.reports(bucket).max { $0.runId < $1.runId })
    }

    // MARK: The textfile

    @Test func theTextfileMatchesTheReportAndKeepsTheLastSuccessAcrossAFailedRun() async throws {
        let bucket = try await seed((0..<4).map { "fine \($0)" })
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        let file = dir + "/textfile/conveyor-\(Self.job).prom"  // the folder is made at the first write

        let first = try CLI.run(["run", job, "--progress", "never", "--metrics-file", file], environment: try environment(url))
        #expect(first.status == 0, "\(first.output)")
        let succeeded = try await latestReport(bucket)
        let afterSuccess = try Textfile(path: file)
        afterSuccess.expectMatches(succeeded)
        #expect(afterSuccess.value("conveyor_last_success_time_seconds") == succeeded.finishedAt.timeIntervalSince1970)
        #expect(afterSuccess.value("conveyor_run_exit_code") == 0)
        // no temporary file is left beside it (the collector would read a *.prom one)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/textfile") == ["conveyor-\(Self.job).prom"])

        // a second run: the four outputs exist (skipped), a fifth item is throttled until it fails
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "in/t100.txt",
                                                body: Data("slow [[error:ThrottlingException]]".utf8), contentType: "text/plain")
        let second = try CLI.run(["run", job, "--progress", "never", "--metrics-file", file], environment: try environment(url))
        #expect(second.status == 1, "\(second.output)")
        let failed = try await latestReport(bucket)
        #expect(failed.runId != succeeded.runId)
        let afterFailure = try Textfile(path: file)
        afterFailure.expectMatches(failed)
        #expect(afterFailure.value("conveyor_run_items", ["status": "skipped"]) == 4)
        #expect(afterFailure.value("conveyor_run_items", ["status": "failed"]) == 1)
        #expect(afterFailure.value("conveyor_run_throttles") == 2)
        #expect(afterFailure.value("conveyor_run_retries") == 1)
        #expect(afterFailure.value("conveyor_run_exit_code") == 1)
        // the failed run kept the first run's success time
        #expect(afterFailure.value("conveyor_last_success_time_seconds") == succeeded.finishedAt.timeIntervalSince1970)
    }

    @Test func theFileIsUpdatedDuringTheRunAndAnInterruptKeepsTheLastSuccess() async throws {
        let bucket = try await seed((0..<30).map { "item \($0)" })
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 400 }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        let file = dir + "/conveyor.prom"
        // what an earlier, successful run left
        let earlier = Date(timeIntervalSince1970: 1_795_917_600)  // 2026-11-28T02:00:00Z
        let previous = RunMetrics(job: Self.job, shard: nil, runId: "20261128T020000Z-0001", startedAt: earlier.addingTimeInterval(-60),
                                  at: earlier, counts: RunStats.Snapshot(), ending: .init(exitCode: 0, status: .succeeded), lastSuccess: earlier)
        try previous.prometheusText.write(toFile: file, atomically: true, encoding: .utf8)

        let process = try CLI.start(["run", job, "--progress", "never", "--metrics-file", file, "--metrics-interval", "1"],
                                    environment: try environment(url))
        // a file written during the run: in progress, items counted, the earlier success kept
        var during: Textfile?
        try await waitUntil("a metrics file written during the run with items in it") {
            guard let t = try? Textfile(path: file), t.value("conveyor_run_in_progress") == 1,
                  (t.value("conveyor_run_items", ["status": "succeeded"]) ?? 0) >= 1 else { return !process.isRunning }
            during = t
            return true
        }
        let interim = try #require(during, "the run ended before a metrics file was written during it")
        #expect(interim.value("conveyor_last_success_time_seconds") == earlier.timeIntervalSince1970)
        #expect(interim.value("conveyor_run_exit_code") == nil)
        kill(process.processIdentifier, SIGTERM)
        let output = CLI.finish(process)
        #expect(process.terminationStatus == 130, "\(output)")
        let interrupted = try await latestReport(bucket)
        #expect(interrupted.status == .interrupted)
        let final = try Textfile(path: file)
        final.expectMatches(interrupted)
        #expect(final.value("conveyor_run_exit_code") == 130)
        #expect(final.value("conveyor_last_success_time_seconds") == earlier.timeIntervalSince1970)
    }

    @Test func badMetricsOptionsExitTwoAndAHeldLockLeavesTheFileAlone() async throws {
        let bucket = try await seed(["one"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)

        let directory = try CLI.run(["run", job, "--metrics-file", dir], environment: try environment(url))
        #expect(directory.status == 2)
        #expect(directory.output.contains("--metrics-file '\(dir)' is a directory"), "\(directory.output)")
        try "not a folder".write(toFile: dir + "/plain", atomically: true, encoding: .utf8)
        let underFile = try CLI.run(["run", job, "--metrics-file", dir + "/plain/x.prom"], environment: try environment(url))
        #expect(underFile.status == 2)
        #expect(underFile.output.contains("\(dir)/plain is not a directory"), "\(underFile.output)")
        let interval = try CLI.run(["run", job, "--metrics-file", dir + "/m.prom", "--metrics-interval", "0"],
                                   environment: try environment(url))
        #expect(interval.status == 2)
        #expect(interval.output.contains("--metrics-interval must be at least 1"), "\(interval.output)")
        #expect(emulator.stats.calls == 0)

        // another run holds the lock: exit 3, and its metrics file is not touched
        let file = dir + "/m.prom"
        let theirs = "# HELP conveyor_run_in_progress the holder's\n# TYPE conveyor_run_in_progress gauge\nconveyor_run_in_progress{conveyor_job=\"\(Self.job)\"} 1\n"
        try theirs.write(toFile: file, atomically: true, encoding: .utf8)
        let holder = LockRecord(runId: "20261130T000000Z-beef", host: "other-host", pid: 4242, startedAt: Date(),
                                heartbeatAt: Date(), conveyorVersion: "test")
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "reports/\(Self.job).lock", body: holder.encoded,
                                                contentType: "application/json")
        let locked = try CLI.run(["run", job, "--progress", "never", "--metrics-file", file], environment: try environment(url))
        #expect(locked.status == 3, "\(locked.output)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == theirs)

        // a file Conveyor cannot read back: a warning naming it and the line, and the run goes on
        try "conveyor_run_items{conveyor_job=\"x\" 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let corrupt = try CLI.run(["run", job, "--progress", "never", "--metrics-file", file, "--break-lock"],
                                  environment: try environment(url))
        #expect(corrupt.status == 0, "\(corrupt.output)")
        #expect(corrupt.output.contains("metrics file \(file): line 1:"), "\(corrupt.output)")
        #expect(corrupt.output.contains("the last success time is not carried over"), "\(corrupt.output)")
        try Textfile(path: file).expectMatches(try await latestReport(bucket))
    }

    // MARK: CloudWatch EMF

    @Test func emfLinesFollowTheSpecAndAddUpToTheReport() async throws {
        let bucket = try await seed((0..<8).map { $0 == 5 ? "bad [[error:ValidationException]]" : "item \($0)" })
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 300 }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)

        let run = try CLI.run(["run", job, "--progress", "never", "--log-format", "json", "--shard", "0/1",
                               "--metrics-interval", "1"], environment: try environment(url))
        #expect(run.status == 1, "\(run.output)")
        let report = try await latestReport(bucket)
        let lines = run.output.split(separator: "\n").compactMap { try? JSONValue.parse(Data($0.utf8)).objectValue }
        let emf = lines.filter { $0["_aws"] != nil }
        #expect(!emf.isEmpty, "\(run.output)")
        for line in emf { EMF.expectValid(line) }
        // every EMF line is also a log line like the others
        for line in emf {
            #expect(line["message"]?.stringValue == "metrics")
            #expect(line["level"]?.stringValue == "info")
            #expect(line["time"]?.stringValue != nil)
        }
        // the counts are what happened since the previous line: their sums are the run's totals
        func sum(_ name: String) -> Double { emf.reduce(0) { $0 + ($1[name]?.doubleValue ?? 0) } }
        #expect(sum("ItemsSucceeded") == Double(report.counts.succeeded))
        #expect(sum("ItemsFailed") == 1)
        #expect(sum("ItemsSkipped") == 0)
        #expect(sum("InputTokens") == Double(report.usage.inputTokens))
        #expect(sum("OutputTokens") == Double(report.usage.outputTokens))
        #expect(sum("ModelCalls") == Double(report.calls.attempts))
        #expect(sum("Throttles") == Double(report.calls.throttled))
        #expect(sum("Retries") == Double(report.calls.retried))
        #expect(abs(sum("EstimatedCostUSD") - report.estimatedCostUSD) < 1e-5)
        #expect(report.estimatedCostUSD > 0)
        // labelled by job and shard; the last line tells the outcome
        for line in emf {
            #expect(line["Job"]?.stringValue == Self.job)
            #expect(line["Shard"]?.stringValue == "0/1")
            #expect(line["RunId"]?.stringValue == report.runId)
            let directive = line["_aws"]?["CloudWatchMetrics"]?.arrayValue?.first
            #expect(directive?["Namespace"]?.stringValue == "Conveyor")
            #expect(directive?["Dimensions"] == [["Job"], ["Job", "Shard"]])
        }
        let last = try #require(emf.last)
        #expect(last["Status"]?.stringValue == "partial")
        #expect(last["ExitCode"]?.intValue == 1)
        #expect(last["RunSucceeded"]?.intValue == 0)
        #expect(last["DurationSeconds"]?.doubleValue == report.durationSeconds)
        #expect(last["LastSuccessTime"] == nil)  // never succeeded, and no file to remember one
        #expect(emf.dropLast().allSatisfy { $0["RunSucceeded"] == nil && $0["ExitCode"] == nil })
        // the text log has none
        let text = try CLI.run(["run", job, "--progress", "never", "--break-lock"], environment: try environment(url))
        #expect(!text.output.contains("_aws"), "\(text.output)")
    }

    // MARK: The format itself

    @Test func labelValuesAndHelpTextsAreEscapedAsPrometheusReadsThem() throws {
        let hostile = "quote \" backslash \\ newline \n end"
        let families = [
            PrometheusText.Family(name: "test_escapes", help: "help with \\ and \n a second line", type: .gauge, samples: [
                PrometheusText.Sample(name: "test_escapes", labels: [("value", hostile), ("plain", "0/4")], value: 1.5),
                PrometheusText.Sample(name: "test_escapes", labels: [("value", "")], value: 3),
            ]),
            PrometheusText.Family(name: "test_plain", help: "no labels", type: .gauge, samples: [
                PrometheusText.Sample(name: "test_plain", labels: [], value: 1_795_917_600),
            ]),
        ]
        let text = PrometheusText.render(families)
        #expect(text.contains(#"value="quote \" backslash \\ newline \n end""#), "\(text)")
        #expect(text.contains("# HELP test_escapes help with \\\\ and \\n a second line\n"))
        #expect(text.contains("test_plain 1795917600\n"))
        #expect(try PrometheusText.parse(text) == families)

        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try text.write(toFile: dir + "/escapes.prom", atomically: true, encoding: .utf8)
        let parsed = try PrometheusClient.parse(dir + "/escapes.prom")
        #expect(parsed.count == 2)
        #expect(parsed.first?["help"]?.stringValue == "help with \\ and \n a second line")
        let samples = parsed.first?["samples"]?.arrayValue ?? []
        #expect(samples.first?["labels"]?["value"]?.stringValue == hostile)
        #expect(samples.first?["labels"]?["plain"]?.stringValue == "0/4")
        #expect(samples.first?["value"]?.doubleValue == 1.5)
        #expect(parsed.last?["samples"]?.arrayValue?.first?["value"]?.doubleValue == 1_795_917_600)
    }

    @Test func parseErrorsNameTheLine() {
        #expect(throws: PrometheusText.ParseError(line: 3, message: "the sample of b is not after its family's TYPE line")) {
            try PrometheusText.parse("# TYPE a gauge\na 1\nb 2\n")
        }
        #expect(throws: PrometheusText.ParseError(line: 2, message: "a has more than a value (timestamps are not allowed in textfile-collector files)")) {
            try PrometheusText.parse("# TYPE a gauge\na 1 1700000000000\n")
        }
        #expect(throws: PrometheusText.ParseError(line: 2, message: "unknown escape '\\t' in label l")) {
            try PrometheusText.parse("# TYPE a gauge\na{l=\"x\\t\"} 1\n")
        }
    }
}

/// A metrics textfile read twice, by Conveyor's strict parser and by prometheus_client's, with the
/// exposition format's rules checked on the way.
struct Textfile {
    let families: [PrometheusText.Family]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.hasSuffix("\n") else { throw TestServerError(message: "\(path) does not end with a newline") }
        families = try PrometheusText.parse(text)
        // every family has a HELP and a TYPE line before its samples (the parser checks TYPE)
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            guard text.contains("# HELP \(name) ") else { throw TestServerError(message: "\(name) has no HELP line") }
        }
        // prometheus_client reads the same families, samples and values
        let other = try PrometheusClient.parse(path)
        guard other.count == families.count else {
            throw TestServerError(message: "prometheus_client read \(other.count) families, Conveyor \(families.count)")
        }
        for (theirs, ours) in zip(other, families) {
            let samples = theirs["samples"]?.arrayValue ?? []
            guard theirs["name"]?.stringValue == ours.name, theirs["type"]?.stringValue == ours.type.rawValue,
                  theirs["help"]?.stringValue == ours.help, samples.count == ours.samples.count else {
                throw TestServerError(message: "prometheus_client read \(theirs) for \(ours)")
            }
            for (s, o) in zip(samples, ours.samples) {
                let labels = (s["labels"]?.objectValue?.members ?? []).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
                guard s["value"]?.doubleValue == o.value, s["timestamp"] == .null,
                      labels == o.labels.map({ "\($0.name)=\($0.value)" }).sorted() else {
                    throw TestServerError(message: "prometheus_client read \(s) for \(o)")
                }
            }
        }
    }

    /// The value of the sample of `name` with these labels besides `conveyor_job`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        families.first { $0.name == name }?.samples.first { sample in
            sample.label("conveyor_job") == MetricsTests.job && labels.allSatisfy { sample.label($0.key) == $0.value }
        }?.value
    }

    /// The run's figures are the report's.
    func expectMatches(_ report: RunReport, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let expected: [(String, [String: String], Double)] = [
            ("conveyor_run_in_progress", [:], 0),
            ("conveyor_run_start_time_seconds", [:], report.startedAt.timeIntervalSince1970),
            ("conveyor_run_duration_seconds", [:], report.durationSeconds),
            ("conveyor_run_items", ["status": "succeeded"], Double(report.counts.succeeded)),
            ("conveyor_run_items", ["status": "failed"], Double(report.counts.failed)),
            ("conveyor_run_items", ["status": "skipped"], Double(report.counts.skipped)),
            ("conveyor_run_tokens", ["kind": "input"], Double(report.usage.inputTokens)),
            ("conveyor_run_tokens", ["kind": "output"], Double(report.usage.outputTokens)),
            ("conveyor_run_estimated_cost_usd", [:], report.estimatedCostUSD),
            ("conveyor_run_model_calls", [:], Double(report.calls.attempts)),
            ("conveyor_run_throttles", [:], Double(report.calls.throttled)),
            ("conveyor_run_retries", [:], Double(report.calls.retried)),
            ("conveyor_run_exit_code", [:], Double(report.exitCode)),
        ]
        for (name, labels, value) in expected {
            #expect(self.value(name, labels) == value, "\(name)\(labels)", sourceLocation: sourceLocation)
        }
        for family in families {
            #expect(family.type == .gauge && !family.help.isEmpty, "\(family.name)", sourceLocation: sourceLocation)
            #expect(family.name.hasPrefix("conveyor_"), sourceLocation: sourceLocation)
        }
    }
}

/// Tests/servers/prometheus_parse.py: prometheus_client's parser, as JSON.
enum PrometheusClient {
    static func parse(_ path: String) throws -> [JSONValue] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestServers.repositoryRoot.appendingPathComponent("Tests/servers/prometheus_parse.py").path, path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestServerError(message: "prometheus_client could not parse \(path) (make setup installs it): \(message)")
        }
        return try JSONValue.parse(data).arrayValue ?? []
    }
}

/// The rules of CloudWatch's Embedded Metric Format specification for one log event.
enum EMF {
    static let units: Set<String> = [
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
        "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
        "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
        "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    ]

    static func expectValid(_ root: JSONObject, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        func check(_ ok: Bool, _ what: String) { #expect(ok, "\(what) in \(root)", sourceLocation: sourceLocation) }
        guard let aws = root["_aws"]?.objectValue else { return check(false, "_aws must be an object") }
        // _aws: Timestamp, a number of milliseconds since the epoch; CloudWatchMetrics, an array
        guard let timestamp = aws["Timestamp"]?.intValue else { return check(false, "_aws.Timestamp must be a whole number") }
        check(abs(Double(timestamp) / 1000 - Date().timeIntervalSince1970) < 3600, "_aws.Timestamp must be milliseconds of now")
        guard let directives = aws["CloudWatchMetrics"]?.arrayValue, !directives.isEmpty else {
            return check(false, "_aws.CloudWatchMetrics must be a non-empty array")
        }
        for directive in directives {
            guard let d = directive.objectValue else { check(false, "a MetricDirective must be an object"); continue }
            check(Set(d.keys).isSubset(of: ["Namespace", "Dimensions", "Metrics"]), "a MetricDirective has only its members")
            // Namespace: 1 to 255 characters
            let namespace = d["Namespace"]?.stringValue ?? ""
            check(!namespace.isEmpty && namespace.count <= 255, "Namespace must be a string of 1 to 255 characters")
            // Dimensions: an array of DimensionSets, each an array of at most 30 names of string members
            guard let sets = d["Dimensions"]?.arrayValue else { check(false, "Dimensions must be an array"); continue }
            for set in sets {
                guard let names = set.arrayValue, names.count <= 30 else { check(false, "a DimensionSet has at most 30 names"); continue }
                for name in names {
                    guard let key = name.stringValue else { check(false, "a dimension name must be a string"); continue }
                    let value = root[key]?.stringValue
                    check(value != nil && !value!.isEmpty && value!.count <= 1024, "dimension \(key) must be a string member of the root")
                }
            }
            // Metrics: at most 100 MetricDefinitions, each naming a number member of the root
            guard let metrics = d["Metrics"]?.arrayValue, metrics.count <= 100 else { check(false, "Metrics must be an array of at most 100"); continue }
            var names: Set<String> = []
            for metric in metrics {
                guard let m = metric.objectValue, let name = m["Name"]?.stringValue, !name.isEmpty, name.count <= 1024 else {
                    check(false, "a MetricDefinition needs a Name of 1 to 1024 characters"); continue
                }
                check(Set(m.keys).isSubset(of: ["Name", "Unit", "StorageResolution"]), "MetricDefinition \(name) has only its members")
                check(names.insert(name).inserted, "metric \(name) is defined once")
                if let unit = m["Unit"] { check(unit.stringValue.map(units.contains) ?? false, "metric \(name) has a CloudWatch unit") }
                let value = root[name]
                check(value?.doubleValue != nil, "metric \(name) must be a number member of the root")
            }
        }
    }
}
