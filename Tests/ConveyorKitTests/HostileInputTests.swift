import AWSCore
import AWSServices
import Foundation
import Logging
import Testing
import TestSupport
@testable import ConveyorKit

/// Bad inputs and hostile conditions, each with the outcome the failure table in
/// docs/operations.md promises: which items fail with which code, which conditions stop the run
/// (exit 4) before anything is spent, and which are configuration errors (exit 2).
@Suite(.timeLimit(.minutes(3))) struct HostileInputTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func writeJob(_ dir: String, _ text: String) throws -> String {
        let path = dir + "/job.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func jobText(inputs: String, outputs: String, extra: String = "") -> String {
        """
        version: 1
        name: hostile
        model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
        prompt: "Summarise: {{input}}"
        inputs: {s3: "s3://\(inputs)/in/"}
        output: {s3: "s3://\(outputs)/out/{{item.name}}.json"}
        report: s3://\(outputs)/reports/{{run.id}}.json
        \(extra)
        """
    }

    @Test func unreadableAndRejectedInputsFailOnlyTheirItems() async throws {
        let bucket = try await KitFixture.bucket([
            "in/a-fine.txt": "fine", "in/b-empty.txt": "", "in/c-big.txt": String(repeating: "x", count: 200),
            "in/e-model-error.txt": "x [[error:ModelErrorException]]", "in/f-rejected.txt": "x [[error:ValidationException]]",
        ])
        // Latin-1, not UTF-8
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "in/d-latin1.txt", body: Data([0x63, 0x61, 0x66, 0xE9, 0xFF]),
                                                contentType: "text/plain")
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let job = try KitFixture.job("""
            version: 1
            name: hostile-inputs
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/", maxBytes: 100}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            limits: {concurrency: 1}
            """)
        let recorder = Collected()
        let runner = Runner(job: job, services: try KitFixture.services(bedrockURL: url), recorder: recorder, logger: logger)
        try await runner.run()
        #expect(runner.stopReason == nil)
        let byName = Dictionary(uniqueKeysWithValues: recorder.all.map { ($0.id, $0) })
        #expect(byName["a-fine"]?.status == .succeeded)
        #expect(byName["b-empty"]?.errorCode == "EmptyInput")
        #expect(byName["c-big"]?.errorCode == "InputTooLarge")
        #expect(byName["c-big"]?.errorMessage?.contains("the limit is 100") == true, "\(byName["c-big"]?.errorMessage ?? "")")
        #expect(byName["d-latin1"]?.errorCode == "InvalidInput")
        #expect(byName["d-latin1"]?.errorMessage?.contains("UTF-8") == true, "\(byName["d-latin1"]?.errorMessage ?? "")")
        #expect(byName["e-model-error"]?.errorCode == "ModelErrorException")
        #expect(byName["f-rejected"]?.errorCode == "ValidationException")
        // unreadable inputs spend no call; a rejected one is not retried
        #expect(emulator.stats.calls == 3)
        #expect(byName["e-model-error"]?.attempts == 1)
        #expect(byName["f-rejected"]?.attempts == 1)
    }

    @Test(arguments: ["ResourceNotFoundException", "AccessDeniedException"])
    func anUnknownOrRefusedModelStopsTheRunWithExitFourAfterOneCall(code: String) async throws {
        let bucket = try await RunCommandTests().seed(12) { _ in "x [[error:\(code)]]" }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try RunCommandTests().writeJob(dir, bucket: bucket, concurrency: 8)
        let run = try CLI.run(["run", job, "--progress", "never"], environment: try RunCommandTests().environment(url))
        #expect(run.status == 4, "\(run.output)")
        #expect(run.output.contains(code), "\(run.output)")
        #expect(emulator.stats.calls == 1)  // until one item succeeds, items go one at a time
        let report = try #require(try await KitFixture.reports(bucket).first)
        #expect(report.status == .aborted)
    }

    /// A job over `s3://BUCKET/in/records.jsonl` (id field `id`, prompt `{{record.text}}`).
    static func recordsJob(_ bucket: String, output: String) throws -> Job {
        try KitFixture.job("""
            version: 1
            name: records
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 20}
            prompt: "{{record.text}}"
            inputs: {s3: "s3://\(bucket)/in/records.jsonl", format: jsonl, idField: id}
            output: {s3: "\(output)"}
            """)
    }

    @Test func aBadRecordFailsOnlyItsItem() async throws {
        let lines = [#"{"id": "a", "text": "alpha"}"#, #"{"id": "b", "text": "#, #"{"id": "c", "text": "gamma"}"#]
        let bucket = try await KitFixture.bucket(["in/records.jsonl": lines.joined(separator: "\n")])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let job = try Self.recordsJob(bucket, output: "s3://\(bucket)/out/{{item.id}}.json")
        let recorder = Collected()
        let runner = Runner(job: job, services: try KitFixture.services(bedrockURL: url), recorder: recorder, logger: logger)
        try await runner.run()
        #expect(runner.stopReason == nil)
        #expect(recorder.count(.succeeded) == 2)
        let failed = recorder.all.filter { $0.status == .failed }
        #expect(failed.map(\.errorCode) == ["InvalidInput"])
        #expect(failed.first?.id == "in/records.jsonl#2", "\(failed)")  // the line, in the id and the input
        #expect(failed.first?.input == "s3://\(bucket)/in/records.jsonl#2")
        #expect(failed.first?.errorMessage?.contains("invalid JSON") == true, "\(failed)")
        #expect(emulator.stats.calls == 2)
    }

    @Test func modelErrorsAreRetriedFailTheItemOrStopTheRunByTheirCode() {
        func verdict(_ code: String, _ status: Int) -> Runner.Verdict {
            Runner.classify(AWSError(kind: AWSError.classify(code: code, status: status), service: "Bedrock Runtime",
                                     operation: "Converse", status: status, code: code, message: ""))
        }
        #expect(verdict("ThrottlingException", 429) == .throttle)
        for (code, status) in [("ModelTimeoutException", 408), ("ModelNotReadyException", 429), ("InternalServerException", 500),
                               ("ServiceUnavailableException", 503), ("502", 502)] {
            #expect(verdict(code, status) == .retry, "\(code)")
        }
        #expect(verdict("ValidationException", 400) == .itemFails)
        #expect(verdict("ModelErrorException", 424) == .itemFails)
        #expect(verdict("ResourceNotFoundException", 404) == .abort)
        #expect(verdict("AccessDeniedException", 403) == .abort)
        #expect(Runner.classify(AWSError(service: "Bedrock Runtime", operation: "Converse",
                                         transport: TransportError(kind: .reset, code: 56, message: "reset", requestSent: true)))
            == .retry)
    }

    @Test func aMissingBucketStopsTheRunWithExitFourBeforeAnyCall() async throws {
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = TestAWS.uniqueName("conveyor-missing")
        let existing = try await RunCommandTests().seed(3)
        let environment = try RunCommandTests().environment(url)
        // outputs (and report and lock) in a bucket that does not exist
        let noOutputs = try CLI.run(["run", try writeJob(dir, jobText(inputs: existing, outputs: missing)), "--progress", "never"],
                                    environment: environment)
        #expect(noOutputs.status == 4, "\(noOutputs.output)")
        #expect(noOutputs.output.contains("NoSuchBucket"), "\(noOutputs.output)")
        #expect(noOutputs.output.contains(missing))
        // inputs in a bucket that does not exist
        let noInputs = try CLI.run(["run", try writeJob(dir, jobText(inputs: missing, outputs: existing)), "--progress", "never"],
                                   environment: environment)
        #expect(noInputs.status == 4, "\(noInputs.output)")
        #expect(noInputs.output.contains("NoSuchBucket"), "\(noInputs.output)")
        #expect(emulator.stats.calls == 0)
        let report = try #require(try await KitFixture.reports(existing).first, "\(noInputs.output)")
        #expect(report.status == .aborted)
    }

    @Test func accessDeniedOnAnInputFailsItsItemAndOnTheOutputsStopsTheRun() async throws {
        let bucket = try await RunCommandTests().seed(6)
        let faults = try FaultProxy.start(upstream: try TestAWS.proxyURL())
        try await faults.configure([
            FaultProxy.Rule(.error, method: "GET", path: "^/\(bucket)/in/t002\\.txt$", status: 403, code: "AccessDenied"),
            // an input deleted between the listing and its read
            FaultProxy.Rule(.error, method: "GET", path: "^/\(bucket)/in/t004\\.txt$", status: 404, code: "NoSuchKey"),
        ])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let environment = ["AWS_ENDPOINT_URL_S3": faults.url.absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url]
        let job = try RunCommandTests().writeJob(dir, bucket: bucket)
        let inputDenied = try CLI.run(["run", job, "--progress", "never"], environment: environment)
        #expect(inputDenied.status == 1, "\(inputDenied.output)")
        #expect(inputDenied.output.contains("4 succeeded, 2 failed"), "\(inputDenied.output)")
        let report = try #require(try await KitFixture.reports(bucket).first)
        #expect(Set(report.failures.map { "\($0.code) \($0.input ?? "")" })
            == ["AccessDenied s3://\(bucket)/in/t002.txt", "NoSuchKey s3://\(bucket)/in/t004.txt"])
        #expect(emulator.stats.calls == 4)
        // now the outputs: writes refused
        let outputs = try await RunCommandTests().seed(6)
        try await faults.configure([FaultProxy.Rule(.error, method: "PUT", path: "^/\(outputs)/out/", status: 403,
                                                    code: "AccessDenied")])
        let outputDenied = try CLI.run(["run", try RunCommandTests().writeJob(dir, bucket: outputs), "--progress", "never"],
                                       environment: environment)
        #expect(outputDenied.status == 4, "\(outputDenied.output)")
        #expect(outputDenied.output.contains("cannot write outputs"), "\(outputDenied.output)")
        #expect(emulator.stats.calls == 4 + 1)  // the first item's call alone
    }

    @Test func aLockTakenByAnotherRunMidRunStopsThisOne() async throws {
        let bucket = try await RunCommandTests().seed(200)
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 200 }
        defer { try? emulator.stop() }
        let job = try KitFixture.job(jobText(inputs: bucket, outputs: bucket, extra: "limits: {concurrency: 2}"))
        var options = RunOptions()
        options.lockHeartbeat = .milliseconds(50)
        let session = try RunSession(job: job, services: try KitFixture.services(bedrockURL: url), options: options,
                                     logger: logger, conveyorVersion: "test")
        let run = Task { try await session.run() }
        try await waitUntil("2 items done") { session.snapshot.finished >= 2 }
        // another run takes the lock over (as --break-lock would)
        let other = LockRecord(runId: "20261130T000000Z-0the", host: "other-host", pid: 1, startedAt: Date(), heartbeatAt: Date(),
                               conveyorVersion: "test")
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "reports/hostile.lock", body: other.encoded,
                                                contentType: "application/json")
        let report = try await run.value
        #expect(report.status == .aborted)
        #expect(report.exitCode == 4)
        #expect(session.runner.stopReason == .fatal("the job's lock was taken by another run"))
        #expect(report.counts.succeeded < 200)
        // the other run's lock is left alone
        let lock = try await KitFixture.s3().getObject(bucket: bucket, key: "reports/hostile.lock").body
        #expect(LockRecord.parse(lock)?.runId == "20261130T000000Z-0the")
    }

    @Test func aMissingSSMParameterIsExitTwoNamingIt() async throws {
        let bucket = try await RunCommandTests().seed(2)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "/conveyor-test/\(TestAWS.uniqueName("absent"))"
        let job = try writeJob(dir, jobText(inputs: bucket, outputs: bucket, extra: "system: {ssm: \(name)}"))
        var environment = try RunCommandTests().environment(url)
        environment["AWS_ENDPOINT_URL_SSM"] = try TestAWS.proxyURL().absoluteString
        let run = try CLI.run(["run", job, "--progress", "never"], environment: environment)
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains("job.yaml:8:"), "\(run.output)")
        #expect(run.output.contains("the SSM parameter \(name) (the system prompt) does not exist"), "\(run.output)")
        #expect(emulator.stats.calls == 0)
        #expect(!(try await KitFixture.keys(bucket).contains { $0.hasPrefix("out/") || $0.hasSuffix(".lock") }))
    }

    @Test func aClockThatIsOffIsNamedWithHowFarOff() async throws {
        let bucket = try await RunCommandTests().seed(2)
        // a signature-checking proxy whose clock is 30 minutes ahead: this host is 30 minutes behind
        let skewed = try TestServers.launch(script: "sigv4_proxy.py", arguments: [
            "--upstream", try TestAWS.motoURL().absoluteString, "--clock-offset", "1800",
            "--credentials", "\(TestAWS.accessKey):\(TestAWS.secretKey)",
        ])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // S3: RequestTimeTooSkewed on the first request (the lock): exit 4, nothing spent
        let job = try RunCommandTests().writeJob(dir, bucket: bucket)
        let s3 = try CLI.run(["run", job, "--progress", "never"],
                             environment: ["AWS_ENDPOINT_URL_S3": skewed.absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url])
        #expect(s3.status == 4, "\(s3.output)")
        #expect(s3.output.contains("RequestTimeTooSkewed"), "\(s3.output)")
        #expect(s3.output.contains("the clock of this host is 30 minutes behind AWS's"), "\(s3.output)")
        // SSM (JSON): InvalidSignatureException "Signature expired": exit 2, the same explanation
        let name = "/conveyor-test/\(TestAWS.uniqueName("clock"))"
        try await KitFixture.putParameter(name, "Be brief.")
        let ssmJob = try writeJob(dir, jobText(inputs: bucket, outputs: bucket, extra: "system: {ssm: \(name)}"))
        let ssm = try CLI.run(["run", ssmJob, "--progress", "never"], environment: [
            "AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_SSM": skewed.absoluteString,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        ])
        #expect(ssm.status == 2, "\(ssm.output)")
        #expect(ssm.output.contains("InvalidSignatureException"), "\(ssm.output)")
        #expect(ssm.output.contains("the clock of this host is 30 minutes behind AWS's"), "\(ssm.output)")
        #expect(emulator.stats.calls == 0)
    }
}
