import AWSCore
import AWSServices
import ConverseEmulator
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// Engine batch end to end: the CLI against moto (through the signature-checking proxy) and the
/// emulator's batch control plane, which reads the records from moto and writes the answers back.
@Suite(.timeLimit(.minutes(3))) struct BatchEngineTests {
    static let role = "arn:aws:iam::123456789012:role/bedrock-batch"

    func writeJob(_ dir: String, bucket: String, minRecords: Int = 3, extra: String = "") throws -> String {
        let path = dir + "/\(bucket).yaml"
        try """
            version: 1
            name: batched
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            batch:
              roleArn: \(Self.role)
              staging: s3://\(bucket)/staging/
              minRecords: \(minRecords)
              pollInterval: 50ms
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Six tickets, one of which the model refuses.
    func seed(_ count: Int = 6) async throws -> String {
        var objects: [String: String] = [:]
        for i in 0..<count { objects[String(format: "in/t%02d.txt", i)] = i == 4 ? "bad [[error:ValidationException]]" : "ticket \(i)" }
        return try await KitFixture.bucket(objects)
    }

    func startEmulator(minRecords: Int = 3) throws -> (server: ConverseEmulatorServer, environment: [String: String]) {
        let proxy = try TestAWS.proxyURL().absoluteString
        let (server, url) = try KitFixture.startEmulator { config in
            config.batch.s3Endpoint = proxy
            config.batch.s3AccessKey = TestAWS.accessKey
            config.batch.s3SecretKey = TestAWS.secretKey
            config.batch.minRecords = minRecords
        }
        return (server, ["AWS_ENDPOINT_URL_S3": proxy, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url, "AWS_ENDPOINT_URL_BEDROCK": url])
    }

    func report(_ bucket: String, _ key: String) async throws -> RunReport {
        try RunReport.load(from: try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
    }

    /// An output object without the fields that time the call.
    func untimed(_ bucket: String, _ key: String) async throws -> JSONValue {
        let body = try JSONValue.parse(try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
        guard let object = body.objectValue else { return body }
        return .object(JSONObject(object.members.filter { !["latencyMs", "finishedAt"].contains($0.key) }.map { ($0.key, $0.value) }))
    }

    @Test func aBatchRunWritesWhatAnOnDemandRunWritesAtHalfThePrice() async throws {
        let onDemand = try await seed()
        let batched = try await seed()
        let (emulator, environment) = try startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let direct = try CLI.run(["run", try writeJob(dir, bucket: onDemand), "--progress", "never", "--run-id", "same-run"],
                                 environment: environment)
        #expect(direct.status == 1, "\(direct.output)")
        #expect(emulator.stats.batchJobs == 0)
        let calls = emulator.stats.calls

        let batch = try CLI.run(["run", try writeJob(dir, bucket: batched), "--engine", "batch", "--progress", "never",
                                 "--run-id", "same-run"], environment: environment)
        #expect(batch.status == 1, "\(batch.output)")
        #expect(emulator.stats.batchJobs == 1)
        #expect(emulator.stats.calls == calls)  // no Converse call: the batch job answered

        // the same output keys, and the same objects apart from timing
        let outputs = { (keys: [String]) in keys.filter { $0.hasPrefix("out/") }.sorted() }
        let keys = outputs(try await KitFixture.keys(batched))
        #expect(keys == outputs(try await KitFixture.keys(onDemand)))
        #expect(keys.count == 5)
        for key in keys {
            #expect(try await untimed(batched, key) == untimed(onDemand, key), "\(key)")
        }
        // the same report, apart from the price and the batch job
        let a = try await report(onDemand, "reports/same-run.json")
        let b = try await report(batched, "reports/same-run.json")
        #expect(a.counts == b.counts)
        #expect(b.counts == RunReport.Counts(total: 6, succeeded: 5, failed: 1, skipped: 0))
        #expect(a.usage == b.usage)
        #expect(a.status == b.status)
        #expect(a.failures.map(\.id) == b.failures.map(\.id))
        #expect(a.failures.map(\.code) == b.failures.map(\.code))
        #expect(a.batchJobs == nil)
        #expect(b.batchJobs?.count == 1)
        #expect(b.batchJobs?.first?.hasPrefix("arn:aws:bedrock:us-east-1:") == true)
        #expect(a.estimatedCostUSD > 0)
        #expect(abs(b.estimatedCostUSD * 2 - a.estimatedCostUSD) < 1e-5, "\(a.estimatedCostUSD) \(b.estimatedCostUSD)")
        // the manifests name the same items with the same statuses
        let manifest = { (bucket: String) async throws -> [String: String] in
            var lines: [String: String] = [:]
            for try await record in ManifestReader(uri: .s3(bucket: bucket, key: "reports/same-run.items.jsonl"),
                                                   storage: Storage(s3: try KitFixture.s3())) {
                lines[record.id] = "\(record.status)"
            }
            return lines
        }
        #expect(try await manifest(batched) == manifest(onDemand))

        // the record the batch could not answer, re-run on demand from the batch run's report
        let before = emulator.stats.calls
        let retried = try CLI.run(["run", try writeJob(dir, bucket: batched), "--retry-failed",
                                   "s3://\(batched)/reports/same-run.json", "--engine", "ondemand", "--progress", "never",
                                   "--run-id", "retry-1"], environment: environment)
        #expect(retried.status == 1, "\(retried.output)")  // the prompt still asks for the error
        #expect(emulator.stats.calls == before + 1)
        let retry = try await report(batched, "reports/retry-1.json")
        #expect(retry.counts.total == 1 && retry.failures.map(\.id) == b.failures.map(\.id))
        #expect(retry.previousReport == "s3://\(batched)/reports/same-run.json")
        #expect(emulator.stats.batchJobs == 1)

        // a rerun skips what is written and sends only what is not
        let again = try CLI.run(["run", try writeJob(dir, bucket: batched), "--engine", "batch", "--progress", "never"],
                                environment: environment)
        #expect(again.status == 2, "\(again.output)")  // one item left: fewer than minRecords
        #expect(again.output.contains("only 1 item to send"), "\(again.output)")
        #expect(emulator.stats.batchJobs == 1)
    }

    @Test func tooFewRecordsAreRefusedWithTheOnDemandWayOut() async throws {
        let bucket = try await seed(2)
        let (emulator, environment) = try startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try CLI.run(["run", try writeJob(dir, bucket: bucket, minRecords: 5), "--engine", "batch", "--progress", "never"],
                                 environment: environment)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("only 2 items to send"), "\(result.output)")
        #expect(result.output.contains("batch.minRecords (5)"), "\(result.output)")
        #expect(result.output.contains("--engine ondemand"), "\(result.output)")
        #expect(emulator.stats.batchJobs == 0)
        #expect(try await KitFixture.keys(bucket).allSatisfy { $0.hasPrefix("in/") })  // nothing staged, nothing written
    }

    @Test func aDetachedRunIsCollectedLaterAndItsJobIsNeverSubmittedTwice() async throws {
        let bucket = try await seed()
        let (emulator, environment) = try startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)

        let detached = try CLI.run(["run", job, "--engine", "batch", "--detach", "--progress", "never", "--run-id", "night-1"],
                                   environment: environment)
        #expect(detached.status == 0, "\(detached.output)")
        #expect(detached.output.contains("conveyor collect"), "\(detached.output)")
        #expect(emulator.stats.batchJobs == 1)
        let first = try await report(bucket, "reports/night-1.json")
        #expect(first.status == .detached)
        #expect(first.batchJobs?.count == 1)
        #expect(try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }.isEmpty)  // outputs come with collect

        // another run of the job before the collect is refused: it would send the same items again
        let second = try CLI.run(["run", job, "--engine", "batch", "--progress", "never", "--run-id", "night-2"],
                                 environment: environment)
        #expect(second.status == 2, "\(second.output)")
        #expect(second.output.contains("conveyor collect \(job) night-1"), "\(second.output)")

        // as if the run had died between submitting and saving: the state has no ARN, so collect
        // submits again with the same clientRequestToken, and Bedrock answers with the same job
        let s3 = try KitFixture.s3()
        let stateKey = "staging/batched/night-1/state.json"
        let state = try JSONValue.parse(try await s3.getObject(bucket: bucket, key: stateKey).body)
        let stripped = String(decoding: state.serialized(), as: UTF8.self)
            .replacingOccurrences(of: #",\s*"jobArn":\s*"[^"]*""#, with: "", options: .regularExpression)
        #expect(!stripped.contains("jobArn"))
        _ = try await s3.putObject(bucket: bucket, key: stateKey, body: Data(stripped.utf8), contentType: "application/json")

        let collected = try CLI.run(["collect", job, "night-1", "--progress", "never"], environment: environment)
        #expect(collected.status == 1, "\(collected.output)")
        #expect(emulator.stats.batchJobs == 1)  // the same token: no second job
        let final = try await report(bucket, "reports/night-1.json")
        #expect(final.counts == RunReport.Counts(total: 6, succeeded: 5, failed: 1, skipped: 0))
        #expect(final.batchJobs == first.batchJobs)
        #expect(final.failures.first?.code == "ValidationException")
        #expect(try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }.count == 5)
        #expect(try await !KitFixture.keys(bucket).contains("staging/batched/detached.json"))

        // collecting it again would replace its report with one of skips: refused
        let twice = try CLI.run(["collect", job, "night-1", "--progress", "never"], environment: environment)
        #expect(twice.status == 2, "\(twice.output)")
        #expect(twice.output.contains("was collected already"), "\(twice.output)")

        // collecting a run that does not exist says so
        let unknown = try CLI.run(["collect", job, "night-9", "--progress", "never"], environment: environment)
        #expect(unknown.status == 2, "\(unknown.output)")
        #expect(unknown.output.contains("no batch run night-9"), "\(unknown.output)")
    }

    @Test func aSignalStopsTheWaitNotTheJobAndCollectFinishesTheRun() async throws {
        // the last ticket holds its job at Bedrock until the job is stopped
        let bucket = try await KitFixture.bucket(["in/t0.txt": "ticket 0", "in/t1.txt": "ticket 1",
                                                  "in/t2.txt": "ticket 2", "in/t3.txt": "slow [[latency:120000]]"])
        let (emulator, environment) = try startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        let process = try CLI.start(["run", job, "--engine", "batch", "--progress", "never", "--run-id", "sig-1"],
                                    environment: environment)
        try await waitUntil("the batch job submitted") { emulator.stats.batchJobs >= 1 || !process.isRunning }
        kill(process.processIdentifier, SIGTERM)
        let output = CLI.finish(process)
        #expect(process.terminationStatus == 130, "\(output)")
        #expect(output.contains("conveyor collect \(job) sig-1"), "\(output)")
        let interrupted = try await report(bucket, "reports/sig-1.json")
        #expect(interrupted.status == .interrupted)
        let arn = try #require(interrupted.batchJobs?.first)

        // the next run waits for the collect
        let next = try CLI.run(["run", job, "--engine", "batch", "--progress", "never"], environment: environment)
        #expect(next.status == 2, "\(next.output)")

        // the job is stopped at Bedrock: collect reports what it answered, and fails the rest
        let control = BedrockClient(client: try KitFixture.awsClient(BedrockClient.serviceInfo,
                                                                     endpoint: environment["AWS_ENDPOINT_URL_BEDROCK"]))
        try await control.stopModelInvocationJob(arn)
        let collected = try CLI.run(["collect", job, "sig-1", "--progress", "never"], environment: environment)
        #expect(collected.status == 1, "\(collected.output)")
        let final = try await report(bucket, "reports/sig-1.json")
        #expect(final.counts.total == 4 && final.counts.failed == 1)
        #expect(final.failures.map(\.id) == ["t3"])
        #expect(final.failures.first?.code == "BatchJobStopped")
        #expect(emulator.stats.batchJobs == 1)
    }

    @Test func recordsAreChunkedWithinTheQuotasAndNoneBelowTheMinimum() throws {
        var chunker = BatchChunker(maxRecords: 6, maxBytes: 1_000_000, minRecords: 3)
        for i in 0..<13 {
            let item = WorkItem(index: i, id: "i\(i)", key: nil, source: .prompt(id: "i\(i)", input: nil), inputURI: nil)
            chunker.add(BatchEntry(item: item, output: nil), line: Data("{}".utf8))
        }
        // 6 + 6 + 1 would leave a job below the minimum: the last two are evened out
        #expect(try chunker.finish().map(\.entries.count) == [6, 3, 4])
        var tight = BatchChunker(maxRecords: 4, maxBytes: 1_000_000, minRecords: 3)
        for i in 0..<5 {
            let item = WorkItem(index: i, id: "t\(i)", key: nil, source: .prompt(id: "t\(i)", input: nil), inputURI: nil)
            tight.add(BatchEntry(item: item, output: nil), line: Data("{}".utf8))
        }
        #expect(throws: ConfigurationError.self) { try tight.finish() }
        var bySize = BatchChunker(maxRecords: 100, maxBytes: 10, minRecords: 1)
        for i in 0..<3 {
            let item = WorkItem(index: i, id: "s\(i)", key: nil, source: .prompt(id: "s\(i)", input: nil), inputURI: nil)
            bySize.add(BatchEntry(item: item, output: nil), line: Data("1234".utf8))
        }
        #expect(try bySize.finish().map(\.entries.count) == [2, 1])
        #expect(BatchEntry.recordId(for: "ticket-1") == BatchEntry.recordId(for: "ticket-1"))
        #expect(BatchEntry.recordId(for: "ticket-1").count == 16)
        #expect(BatchRunState.token(runId: "r1", job: "j", chunk: 0) == BatchRunState.token(runId: "r1", job: "j", chunk: 0))
        #expect(BatchRunState.token(runId: "r1", job: "j", chunk: 0) != BatchRunState.token(runId: "r1", job: "j", chunk: 1))
        #expect(BatchRunState.token(runId: "r1", job: "j", chunk: 0) != BatchRunState.token(runId: "r2", job: "j", chunk: 0))
    }
}

/// The batch settings as the job file gives them, checked where they are written.
@Suite struct BatchSettingsTests {
    let head = """
        version: 1
        name: settings
        model: {id: anthropic.claude-3-haiku-20240307-v1:0}
        prompt: "{{input}}"
        inputs: {s3: "s3://bkt/in/"}
        output: {s3: "s3://bkt/out/{{item.name}}.json"}
        engine: batch
        """

    @Test func theQuotasAndThePollingAreReadWithTheirDefaults() throws {
        let defaults = try KitFixture.job(head + "\nbatch: {roleArn: \(BatchEngineTests.role), staging: s3://bkt/staging/}")
        #expect(defaults.batch?.minRecords == 100 && defaults.batch?.maxRecords == 50_000)
        #expect(defaults.batch?.maxFileMB == 1024 && defaults.batch?.maxJobs == 10)
        #expect(defaults.batch?.pollInterval == .seconds(60) && defaults.batch?.timeoutHours == 24)
        let set = try KitFixture.job(head + """

            batch: {roleArn: \(BatchEngineTests.role), staging: s3://bkt/staging/, minRecords: 3, maxRecords: 10,
                    maxFileMB: 5, maxJobs: 2, pollInterval: 2m, timeoutHours: 48}
            """)
        #expect(set.batch?.maxRecords == 10 && set.batch?.maxFileMB == 5 && set.batch?.maxJobs == 2)
        #expect(set.batch?.pollInterval == .seconds(120) && set.batch?.timeoutHours == 48)
    }

    @Test func stagingOutsideS3AndImpossibleQuotasAreErrorsAtTheirLine() {
        #expect {
            _ = try KitFixture.job(head + "\nbatch: {roleArn: \(BatchEngineTests.role), staging: file:///tmp/staging/}")
        } throws: { error in
            (error as? DiagnosticsError)?.errors.contains { $0.location?.line == 8 && $0.message.contains("must be an s3:// prefix") } == true
        }
        #expect {
            _ = try KitFixture.job(head + "\nbatch:\n  roleArn: \(BatchEngineTests.role)\n  staging: s3://bkt/s/\n  maxRecords: 50\n")
        } throws: { error in
            (error as? DiagnosticsError)?.errors.contains { $0.location?.line == 11 && $0.message.contains("below batch.minRecords (100)") } == true
        }
    }
}

extension BatchSettingsTests {
    @Test func thePlanOfABatchJobIsPricedAtTheBatchPrice() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        for i in 0..<3 { try "ticket \(i) wants a refund".write(toFile: dir + "/in/t\(i).txt", atomically: true, encoding: .utf8) }
        let text = """
            version: 1
            name: priced
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
            prompt: "{{input}}"
            inputs: {s3: "file://\(dir)/in/"}
            output: {s3: "file://\(dir)/out/{{item.name}}.json"}
            batch: {roleArn: \(BatchEngineTests.role), staging: s3://bkt/staging/}
            """
        let onDemand = try await DryRun.plan(try KitFixture.job(text), services: RunServices(storage: Storage(s3: nil)))
        let batch = try await DryRun.plan(try KitFixture.job(text + "\nengine: batch"), services: RunServices(storage: Storage(s3: nil)))
        let a = try #require(onDemand.cost)
        let b = try #require(batch.cost)
        #expect(b.mode == .batch && a.mode == .onDemand)
        #expect(a.worstCaseUSD ?? 0 > 0)
        #expect(abs((b.worstCaseUSD ?? 0) * 2 - (a.worstCaseUSD ?? 0)) < 1e-12)
    }
}

extension BatchSettingsTests {
    @Test func thePolicyOfABatchJobLetsItSubmitPassTheRoleAndUseItsStagingFolder() throws {
        let job = try KitFixture.job(head + "\nbatch: {roleArn: \(BatchEngineTests.role), staging: s3://stage-bkt/conveyor/}")
        let generated = JobPolicy(job: job, options: JobPolicy.Options(account: "123456789012", dataRegion: "us-east-1",
                                                                       modelRegion: "us-east-1"))
        let policy = try PolicyTests.parse(generated.policy.jsonText())
        func statement(_ sid: String) throws -> [String: Any] {
            try #require(policy.first { $0["Sid"] as? String == sid }, "no statement \(sid)")
        }
        #expect(try statement("BatchJobs")["Resource"] as? [String]
            == ["arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/*"])
        #expect(try statement("BatchJobs")["Action"] as? [String] == ["bedrock:CreateModelInvocationJob",
                                                                      "bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob"])
        let pass = try statement("PassBatchRole")
        #expect(pass["Resource"] as? [String] == [BatchEngineTests.role])
        #expect((pass["Condition"] as? [String: [String: [String]]])?["StringEquals"]?["iam:PassedToService"] == ["bedrock.amazonaws.com"])
        #expect(try statement("BatchStaging")["Resource"] as? [String] == ["arn:aws:s3:::stage-bkt/conveyor/settings/*"])
        #expect(policy.contains { ($0["Resource"] as? [String]) == ["arn:aws:s3:::stage-bkt"] })
    }
}
