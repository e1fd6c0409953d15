import AWSCore
import AWSServices
import ConverseEmulator
import Foundation
import Logging
import Testing
import TestSupport
@testable import ConveyorKit

/// Structured output end to end: inputs and outputs in moto (through the signature-checking
/// proxy), answers from the emulator over HTTP. Inputs carry `[[wrong-tool-input:N]]` to make the
/// first N answers of an item break the schema.
@Suite(.timeLimit(.minutes(3))) struct StructuredRunTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static let schema = """
        {type: object, required: [label, confidence], additionalProperties: false,
                 properties: {label: {enum: [bug, feature, praise]}, confidence: {type: number, minimum: 0, maximum: 1}}}
        """

    func jobText(_ bucket: String, output: String = "", name: String = "structured") -> String {
        """
        version: 1
        name: \(name)
        model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
        prompt: "Classify this feedback: {{input}}"
        inputs: {s3: "s3://\(bucket)/in/"}
        output:
          s3: "s3://\(bucket)/out/{{item.name}}.json"
          schema: \(Self.schema)
        \(output.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        report: "s3://\(bucket)/reports/{{run.id}}.json"
        limits: {concurrency: 4, maxAttempts: 5}
        """
    }

    func seed(_ texts: [String]) async throws -> String {
        var objects: [String: String] = [:]
        for (i, text) in texts.enumerated() { objects[String(format: "in/f%02d.txt", i)] = text }
        return try await KitFixture.bucket(objects)
    }

    func run(_ job: Job, emulator url: String) async throws -> (Runner, Collected) {
        let recorder = Collected()
        let runner = Runner(job: job, services: try KitFixture.services(bedrockURL: url), recorder: recorder, logger: logger)
        try await runner.run()
        return (runner, recorder)
    }

    func output(_ bucket: String, _ name: String) async throws -> JSONValue {
        try JSONValue.parse(try await KitFixture.s3().getObject(bucket: bucket, key: "out/\(name).json").body)
    }

    static let validator = OutputSchema(["type": "object", "required": ["label", "confidence"], "additionalProperties": false,
                                         "properties": ["label": ["enum": ["bug", "feature", "praise"]],
                                                        "confidence": ["type": "number", "minimum": 0, "maximum": 1]]])

    @Test func theValueIsWrittenUnderJson() async throws {
        let bucket = try await seed(["the app crashes", "please add dark mode", "love it"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try KitFixture.job(jobText(bucket)), emulator: url)
        #expect(runner.stopReason == nil)
        #expect(results.count(.succeeded) == 3)
        for i in 0..<3 {
            let record = try await output(bucket, String(format: "f%02d", i))
            let value = try #require(record["json"])
            #expect(Self.validator.violations(of: value).isEmpty, "\(value)")
            #expect(record["schemaRetries"] == 0)
            #expect(record["attempts"] == 1)
            #expect(record["stopReason"] == "tool_use")
        }
        #expect(emulator.stats.calls == 3)
        #expect(emulator.stats.validationErrors == 0)
    }

    @Test func aMismatchIsSentBackAndTheNextAnswerKept() async throws {
        // f00 fits at once, f01 on the second answer, f02 on the third (schemaRetries defaults to 2)
        let bucket = try await seed(["fine", "wrong once [[wrong-tool-input:1]]", "wrong twice [[wrong-tool-input:2]]"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try KitFixture.job(jobText(bucket)), emulator: url)
        #expect(runner.stopReason == nil)
        #expect(results.count(.succeeded) == 3)
        #expect(results.all.map(\.schemaRetries) == [0, 1, 2])
        #expect(results.all.map(\.attempts) == [1, 2, 3])
        // the follow-ups were well-formed conversations: Bedrock's tool-turn rules hold
        #expect(emulator.stats.validationErrors == 0)
        #expect(emulator.stats.accepted == 6)
        // every answer is counted, the ones that did not fit too
        #expect(results.all.reduce(0) { $0 + ($1.usage?.inputTokens ?? 0) } == emulator.stats.inputTokens)
        #expect(results.all.reduce(0) { $0 + ($1.usage?.outputTokens ?? 0) } == emulator.stats.outputTokens)
        #expect(results.all[2].costUSD > results.all[0].costUSD)
        let record = try await output(bucket, "f02")
        #expect(Self.validator.violations(of: try #require(record["json"])).isEmpty)
        #expect(record["schemaRetries"] == 2)
        #expect(record["attempts"] == 3)
        #expect(record["usage"]?["inputTokens"]?.intValue == results.all[2].usage?.inputTokens)
    }

    @Test func pastSchemaRetriesTheItemFailsWithSchemaMismatchAndTheRunExitsOne() async throws {
        let bucket = try await seed(["fine", "never right [[wrong-tool-input:99]]", "also fine"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/job.yaml"
        try jobText(bucket, output: "schemaRetries: 1").write(toFile: path, atomically: true, encoding: .utf8)
        let environment = ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url]
        let result = try CLI.run(["run", path, "--progress", "never"], environment: environment)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("2 succeeded, 1 failed"), "\(result.output)")
        let key = try #require(try await KitFixture.keys(bucket).first { $0.hasPrefix("reports/") && $0.hasSuffix(".json") })
        let report = try RunReport.load(from: try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
        #expect(report.status == .partial)
        let failure = try #require(report.failures.first)
        #expect(failure.id == "f01")
        #expect(failure.code == "SchemaMismatch")
        #expect(failure.message.contains("2 answers did not match output.schema (output.schemaRetries is 1)"), "\(failure.message)")
        #expect(failure.message.contains(#"$.label: expected one of bug, feature, praise, found string "none-of-the-allowed-values""#),
                "\(failure.message)")
        // two answers for the failed item, one for each other: schema follow-ups are not throttle retries
        #expect(report.calls == RunReport.Calls(attempts: 4, throttled: 0, retried: 0, schemaRetries: 1))
        #expect(result.output.contains("calls      4 attempts, 0 throttled, 0 retried, 1 schema follow-up\n"), "\(result.output)")
        #expect(report.usage.inputTokens == emulator.stats.inputTokens)
        #expect(report.usage.outputTokens == emulator.stats.outputTokens)
        // the manifest says the same
        let manifest = try #require(report.manifest)
        var lines: [ItemRecord] = []
        for try await line in ManifestReader(uri: try StorageURI.parse(manifest), storage: Storage(s3: try KitFixture.s3())) {
            lines.append(line)
        }
        let failed = try #require(lines.first { $0.id == "f01" })
        #expect(failed.error?.code == "SchemaMismatch")
        #expect(failed.schemaRetries == 1)
        #expect(failed.attempts == 2)
        #expect(failed.inputTokens > 0)
        #expect(!(try await KitFixture.keys(bucket).contains("out/f01.json")))
    }

    @Test func jsonlCollectsEveryValueAndARerunRebuildsItFromSkippedItems() async throws {
        let bucket = try await seed(["the app crashes", "never right [[wrong-tool-input:99]]", "love it", "dark mode please"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let job = try KitFixture.job(jobText(bucket, output: """
            format: jsonl
            schemaRetries: 0
            collect: "s3://\(bucket)/collected/{{job.name}}.jsonl"
            """))
        func collected() async throws -> [String: JSONValue] {
            let body = try await KitFixture.s3().getObject(bucket: bucket, key: "collected/structured.jsonl").body
            var values: [String: JSONValue] = [:]
            for line in String(decoding: body, as: UTF8.self).split(separator: "\n") {
                let object = try JSONValue.parse(Data(line.utf8))
                values[try #require(object["item"]?["id"]?.stringValue)] = object["json"]
            }
            return values
        }
        let (_, first) = try await run(job, emulator: url)
        #expect(first.count(.succeeded) == 3)
        #expect(first.count(.failed) == 1)
        #expect(try await collected().keys.sorted() == ["f00", "f02", "f03"])
        // the bad input is fixed; the rerun calls the model for it alone and collects all four
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "in/f01.txt", body: Data("a bug".utf8),
                                                contentType: "text/plain")
        let callsBefore = emulator.stats.calls
        let (_, second) = try await run(job, emulator: url)
        #expect(second.count(.skipped) == 3)
        #expect(second.count(.succeeded) == 1)
        #expect(emulator.stats.calls == callsBefore + 1)
        let values = try await collected()
        #expect(values.keys.sorted() == ["f00", "f01", "f02", "f03"])
        for (id, value) in values {
            // each line holds the value its item's output holds
            #expect(try await output(bucket, id)["json"] == value, "\(id)")
        }
    }

    @Test func aFollowUpThatWouldPassTheBudgetIsNotMade() async throws {
        let bucket = try await seed(["never right [[wrong-tool-input:99]]"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        // a call's worst case is about $0.2 (the tool schema, the prompt and 100 output tokens at
        // $1 per 1k): the first fits in $0.3, the first plus a follow-up's worst case do not
        var text = jobText(bucket, output: "format: jsonl\ncollect: \"s3://\(bucket)/collected/all.jsonl\"",
                           name: "structured-budget")
        text = text.replacingOccurrences(of: "maxTokens: 100}", with: "maxTokens: 100, pricing: {inputPer1k: 1, outputPer1k: 1}}")
        text = text.replacingOccurrences(of: "limits: {concurrency: 4, maxAttempts: 5}",
                                         with: "limits: {concurrency: 1, maxAttempts: 5, budgetUSD: 0.3}")
        let (runner, results) = try await run(try KitFixture.job(text), emulator: url)
        guard case .budget = runner.stopReason else {
            Issue.record("expected a budget stop, got \(String(describing: runner.stopReason))")
            return
        }
        let item = try #require(results.all.first)
        #expect(item.errorCode == "SchemaMismatch")
        #expect(item.errorMessage?.contains("a follow-up call would pass limits.budgetUSD") == true, "\(item.errorMessage ?? "")")
        #expect(item.attempts == 1)
        #expect(item.costUSD > 0)
        #expect(emulator.stats.calls == 1)
        // a run that stopped early writes no collection: it would be partial
        #expect(!(try await KitFixture.keys(bucket).contains("collected/all.jsonl")))
    }

    @Test func aRunCutByMaxItemsLeavesTheCollectionAsItWas() async throws {
        let bucket = try await seed(["the app crashes", "love it", "dark mode please"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let job = try KitFixture.job(jobText(bucket, output: "format: jsonl\ncollect: \"s3://\(bucket)/all.jsonl\""))
        let recorder = Collected()
        let services = try KitFixture.services(bedrockURL: url)
        try await Runner(job: job, services: services, options: RunOptions(maxItems: 2), recorder: recorder, logger: logger).run()
        #expect(recorder.count(.succeeded) == 2)
        #expect(!(try await KitFixture.keys(bucket).contains("all.jsonl")))
        // the whole job: two skipped, one called, three lines
        let (_, whole) = try await run(job, emulator: url)
        #expect(whole.count(.skipped) == 2)
        let body = try await KitFixture.s3().getObject(bucket: bucket, key: "all.jsonl").body
        #expect(String(decoding: body, as: UTF8.self).split(separator: "\n").count == 3)
    }

    @Test func aCollectionThatCannotBeWrittenFailsTheRunLoudly() async throws {
        let bucket = try await seed(["the app crashes"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let destination = "s3://\(TestAWSName.missingBucket)/all.jsonl"
        let job = try KitFixture.job(jobText(bucket, output: "format: jsonl\ncollect: \(destination)"))
        let recorder = Collected()
        let runner = Runner(job: job, services: try KitFixture.services(bedrockURL: url), recorder: recorder, logger: logger)
        do {
            try await runner.run()
            Issue.record("the run ended as if the values were collected")
        } catch let error as CollectError {
            #expect(error.message.hasPrefix("output.collect: the collection could not be written to \(destination)"),
                    "\(error.message)")
        }
        #expect(recorder.count(.succeeded) == 1)  // the item's own output is written all the same
    }

    @Test func formatTextWritesTheValueAsOneLineOfJSON() async throws {
        let bucket = try await seed(["the app crashes"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let text = jobText(bucket, output: "format: text").replacingOccurrences(of: "{{item.name}}.json", with: "{{item.name}}.txt")
        let (_, results) = try await run(try KitFixture.job(text), emulator: url)
        #expect(results.count(.succeeded) == 1)
        let body = try await KitFixture.s3().getObject(bucket: bucket, key: "out/f00.txt").body
        #expect(body.last == 0x0A)
        #expect(Self.validator.violations(of: try JSONValue.parse(body)).isEmpty, "\(String(decoding: body, as: UTF8.self))")
    }

    @Test func thePolicyLetsTheRunReadValuesBackAndWriteTheCollection() throws {
        let job = try KitFixture.job(jobText("acme-labels", output: "format: jsonl\ncollect: \"s3://acme-all/{{job.name}}.jsonl\""))
        let statements = JobPolicy(job: job).policy.statements
        let collect = try #require(statements.first { $0.sid == "CollectValues" })
        #expect(collect.actions == ["s3:PutObject", "s3:AbortMultipartUpload"])
        #expect(collect.resources == ["arn:aws:s3:::acme-all/structured.jsonl", "arn:aws:s3:::acme-all/structured.shard-*-of-*.jsonl"])
        #expect(statements.first { $0.sid == "CheckExistingOutputs" }?.resources == ["arn:aws:s3:::acme-labels/out/*.json"])
        #expect(statements.contains { $0.sid.hasPrefix("ListBucket") && $0.resources == ["arn:aws:s3:::acme-all"] })
        // without jsonl, outputs are only listed and written
        let plain = JobPolicy(job: try KitFixture.job(jobText("acme-labels"))).policy.statements
        #expect(!plain.contains { $0.sid == "CollectValues" || $0.sid == "CheckExistingOutputs" })
    }

    @Test func doctorChecksTheCollectionsBucket() async throws {
        let bucket = try await seed(["x"])
        let job = try KitFixture.job(jobText(bucket, output: """
            format: jsonl
            collect: "s3://\(TestAWSName.missingBucket)/{{job.name}}.jsonl"
            """))
        let checks = await Doctor.locationChecks(job, services: try KitFixture.services())
        let collect = try #require(checks.first { $0.message.contains("output.collect") })
        #expect(collect.status == .fail, "\(collect.message)")
        #expect(collect.message.contains(TestAWSName.missingBucket), "\(collect.message)")
        #expect(collect.message.hasPrefix("/tmp/conveyor-tests/job.yaml:"), "\(collect.message)")
    }

    @Test func planShowsTheForcedToolAndTheSchema() async throws {
        let bucket = try await seed(["x"])
        let job = try KitFixture.job(jobText(bucket, output: "format: jsonl\ncollect: \"s3://\(bucket)/all/{{run.date}}.jsonl\""))
        let summary = try await DryRun.plan(job, services: try KitFixture.services(), options: DryRunOptions(shard: try Shard(index: 1, count: 2)))
        let text = summary.rendered()
        #expect(text.contains("Structured output: every call forces the tool structured_output (toolChoice tool); "
            + "an answer that does not fit the schema is sent back, at most 2 times (up to 3 billed calls per item), "
            + "then the item fails with SchemaMismatch. Schema:"), "\(text)")
        #expect(text.contains(#""label": {"#), "\(text)")
        #expect(text.contains(#""enum": ["bug", "feature", "praise"]"#), "\(text)")
        #expect(text.contains("Values collected at the end of the run in: s3://\(bucket)/all/"), "\(text)")
        #expect(text.contains(".shard-1-of-2.jsonl"), "\(text)")
    }
}
