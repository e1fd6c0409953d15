import AWSCore
import AWSServices
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

@Suite struct DryRunTests {
    func textJob(_ bucket: String, extra: String = "") -> String {
        """
        version: 1
        name: dry
        model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
        system: Be brief.
        prompt: "Summarise {{item.name}}: {{input}}"
        inputs:
          s3: s3://\(bucket)/in/
          include: ["**/*.txt"]
          exclude: ["**/skip-*"]
        output:
          s3: s3://\(bucket)/out/{{item.id}}.json
        report: s3://\(bucket)/reports/{{run.id}}.json
        \(extra)
        """
    }

    @Test func listsFiltersRendersAndEstimatesWithoutWriting() async throws {
        let bucket = try await KitFixture.bucket([
            "in/a.txt": "alpha text", "in/sub/b.txt": "bravo text", "in/skip-c.txt": "no", "in/d.md": "no",
            "other/e.txt": "no",
        ])
        let before = try await KitFixture.keys(bucket)
        let job = try KitFixture.job(textJob(bucket))
        let summary = try await DryRun.plan(job, services: try KitFixture.services(), options: DryRunOptions(show: 5))
        #expect(summary.items == 2)
        #expect(summary.objects == 2)
        #expect(summary.inputBytes == 20)
        #expect(summary.samples.map(\.itemID) == ["a", "sub/b"])
        #expect(summary.samples[0].messages.first?.text == "Summarise a: alpha text")
        #expect(summary.samples[0].system == "Be brief.")
        #expect(summary.samples[1].output == "s3://\(bucket)/out/sub/b.json")
        #expect(summary.worstCaseOutputTokens == 200)
        #expect(summary.cost != nil)
        #expect(summary.canRun)
        #expect(summary.rendered().contains("Items: 2 (2 objects, 20 bytes)"))
        #expect(try await KitFixture.keys(bucket) == before)  // nothing written
    }

    @Test func recordsAreCountedAndBadOnesNamed() async throws {
        let lines = (1...25).map { #"{"id": "r\#($0)", "body": "text \#($0)"}"# } + ["not json", #"{"id": "r26", "body": "last"}"#]
        let bucket = try await KitFixture.bucket(["in/records.jsonl": lines.joined(separator: "\n")])
        let text = """
            version: 1
            name: dry-records
            model: {id: m, maxTokens: 10, pricing: {inputPer1k: 1, outputPer1k: 2}}
            prompt: "Classify: {{record.body}}"
            inputs: {s3: s3://\(bucket)/in/records.jsonl, format: jsonl, idField: id}
            output: {s3: "s3://\(bucket)/out/{{item.id}}.txt", format: text}
            """
        // small chunks: records cross chunk boundaries
        let job = try KitFixture.job(text)
        let summary = try await DryRun.plan(job, services: try KitFixture.services(), options: DryRunOptions(show: 2))
        #expect(summary.items == 27)
        #expect(summary.records == 27)
        #expect(summary.unreadableRecords.count == 1)
        #expect(summary.unreadableRecords.first?.id.hasSuffix("#26") == true)
        #expect(summary.unreadableRecords.first?.code == "InvalidInput")
        #expect(summary.samples.first?.messages.first?.text == "Classify: text 1")
        #expect(summary.samples.first?.output == "s3://\(bucket)/out/r1.txt")
        #expect(summary.quote?.isOverride == true)
        // exact prompt characters / 4, rounded up per item
        #expect(summary.estimatedInputTokens > 0)
    }

    @Test func shardsPartitionTheItems() async throws {
        var objects: [String: String] = [:]
        for i in 0..<40 { objects["in/\(i).txt"] = "n\(i)" }
        let bucket = try await KitFixture.bucket(objects)
        let job = try KitFixture.job(textJob(bucket))
        var seen = 0
        var ids = Set<String>()
        for i in 0..<3 {
            let summary = try await DryRun.plan(job, services: try KitFixture.services(),
                                                options: DryRunOptions(show: 100, shard: try Shard(index: i, count: 3)))
            seen += summary.items
            for sample in summary.samples { #expect(ids.insert(sample.itemID).inserted) }
        }
        #expect(seen == 40)
        #expect(ids.count == 40)
        let limited = try await DryRun.plan(job, services: try KitFixture.services(), options: DryRunOptions(maxItems: 7))
        #expect(limited.items == 7)
        #expect(limited.maxItemsReached)
    }

    @Test func ssmPromptIsReadButNeverShownInTheSummary() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "alpha"])
        let name = "/conveyor-test/\(TestAWS.uniqueName("prompt"))"
        let secret = "Top secret instructions \(UUID().uuidString)"
        try await KitFixture.putParameter(name, secret + " for {{item.name}}", secure: true)
        let job = try KitFixture.job(textJob(bucket).replacingOccurrences(of: "system: Be brief.", with: "system: {ssm: \(name)}"))
        let summary = try await DryRun.plan(job, services: try KitFixture.services(), options: DryRunOptions(show: 0))
        #expect(summary.ssmParameters == [name])
        #expect(!summary.rendered().contains(secret))
        #expect(summary.rendered().contains(name))
    }

    @Test func missingSSMParameterIsAConfigurationErrorNamingIt() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "alpha"])
        let job = try KitFixture.job(textJob(bucket).replacingOccurrences(of: "system: Be brief.", with: "system: {ssm: /conveyor-test/nope}"))
        do {
            _ = try await DryRun.plan(job, services: try KitFixture.services())
            Issue.record("planned with a missing parameter")
        } catch let error as ConfigurationError {
            #expect(error.message.contains("/conveyor-test/nope"))
            #expect(error.message.contains("does not exist"))
            #expect(error.message.hasPrefix("/tmp/conveyor-tests/job.yaml:4:"))
        }
    }

    @Test func unreadableInputsMakeThePlanFail() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "", "in/b.txt": "fine"])
        let job = try KitFixture.job(textJob(bucket))
        let summary = try await DryRun.plan(job, services: try KitFixture.services())
        #expect(!summary.canRun)
        #expect(summary.checkProblems.first?.problem.hasPrefix("EmptyInput") == true)
    }

    @Test func localStoreRelativeToTheJobFile() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try "one".write(toFile: dir + "/data/1.txt", atomically: true, encoding: .utf8)
        try "two".write(toFile: dir + "/data/2.txt", atomically: true, encoding: .utf8)
        let job = try KitFixture.job("""
            version: 1
            name: local
            model: {id: m, maxTokens: 5}
            prompt: "{{input}}"
            inputs: {s3: data/}
            output: {s3: "out/{{item.name}}.json"}
            """, path: dir + "/job.yaml")
        let summary = try await DryRun.plan(job, services: RunServices(storage: Storage(s3: nil)), options: DryRunOptions(show: 2))
        #expect(summary.items == 2)
        #expect(summary.samples.map(\.output) == ["file://\(dir)/out/1.json", "file://\(dir)/out/2.json"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}

/// `conveyor plan` as a user runs it, against moto (through the proxy) and the emulator: it must
/// call no model and write nothing.
@Suite(.timeLimit(.minutes(3))) struct PlanCommandTests {
    @Test func planCallsNoModelAndWritesNothing() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "alpha", "in/b.txt": "bravo"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            version: 1
            name: plan-cli
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            prompt: "Summarise: {{input}}"
            inputs: {s3: s3://\(bucket)/in/}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            """.write(toFile: dir + "/job.yaml", atomically: true, encoding: .utf8)
        let before = try await KitFixture.keys(bucket)
        let result = try CLI.run(["plan", dir + "/job.yaml"], environment: [
            "AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Items: 2 (2 objects, 10 bytes)"), "\(result.output)")
        #expect(result.output.contains("[user] Summarise: alpha"))
        #expect(emulator.stats.calls == 0)
        #expect(try await KitFixture.keys(bucket) == before)
    }

    @Test func unquotedTemplateInAFlowMappingGetsAHint() throws {
        let found = diagnostics("version: 1\noutput: {s3: out/{{item.name}}.json}\n")
        #expect(found.first?.message.contains("quote") == true, "\(found)")
    }

    @Test func invalidJobExitsTwoWithLocatedErrors() throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "version: 1\nname: x\nmodel: {id: m, maxTokns: 5}\noutput: {s3: \"out/{{item.name}}\"}\nprompts: [{id: a, prompt: hi}]\n"
            .write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let plan = try CLI.run(["plan", dir + "/bad.yaml"])
        #expect(plan.status == 2)
        #expect(plan.output.contains("bad.yaml:3:16: error: unknown key 'maxTokns' in model; did you mean 'maxTokens'?"), "\(plan.output)")
        let validate = try CLI.run(["validate", dir + "/bad.yaml"])
        #expect(validate.status == 2)
        let unknownOption = try CLI.run(["run", dir + "/bad.yaml", "--no-such-option"])
        #expect(unknownOption.status == 2, "\(unknownOption.output)")
        #expect(unknownOption.output.contains("--no-such-option"))
        #expect(try CLI.run(["--help"]).status == 0)
        #expect(try CLI.run(["--version"]).output.contains("0.1.0"))
    }
}

/// Runs the built `conveyor` executable.
enum CLI {
    struct Result {
        var status: Int32
        var output: String
    }

    static var executable: String {
        // the test bundle sits beside the products in .build/debug
        let root = TestServers.repositoryRoot.appendingPathComponent(".build/debug/conveyor").path
        return root
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], umask: mode_t? = nil) throws -> Result {
        let process = try start(arguments, environment: environment, umask: umask)
        let output = finish(process)
        return Result(status: process.terminationStatus, output: output)
    }
}
