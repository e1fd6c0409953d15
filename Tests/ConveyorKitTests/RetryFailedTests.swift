import AWSCore
import ConverseEmulator
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor run JOB --retry-failed REPORT_URI` end to end: moto's S3 behind the signing proxy,
/// the emulator failing the items whose text asks it to, model calls counted at the emulator.
@Suite(.timeLimit(.minutes(3))) struct RetryFailedTests {
    func writeJob(_ dir: String, bucket: String, name: String = "retry-job") throws -> String {
        try KitFixture.writeJob(dir, bucket: bucket, name: name, concurrency: 2)
    }

    func environment(_ emulator: String) throws -> [String: String] {
        ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator]
    }

    func put(_ bucket: String, _ key: String, _ text: String) async throws {
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: key, body: Data(text.utf8), contentType: "text/plain")
    }

    /// The one report key in the bucket not in `known`.
    func newReport(_ bucket: String, besides known: Set<String> = []) async throws -> String {
        let keys = try await KitFixture.keys(bucket).filter { $0.hasPrefix("reports/") && $0.hasSuffix(".json") && !known.contains($0) }
        #expect(keys.count == 1, "\(keys)")
        return try #require(keys.first)
    }

    func report(_ bucket: String, _ key: String) async throws -> RunReport {
        try RunReport.load(from: try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
    }

    /// A bucket with `objects` (key → text) under in/, an emulator, the job, and its first run
    /// (expected to end with failed items, exit 1).
    struct FirstRun {
        var bucket: String
        var emulator: ConverseEmulatorServer
        var dir: String
        var job: String
        var env: [String: String]
        var reportKey: String
        var reportURI: String { "s3://\(bucket)/\(reportKey)" }

        func cleanUp() {
            try? emulator.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func firstRun(_ objects: [String: String]) async throws -> FirstRun {
        let bucket = try await KitFixture.bucket(objects)
        let (emulator, url) = try KitFixture.startEmulator()
        let dir = try KitFixture.temporaryDirectory()
        let job = try writeJob(dir, bucket: bucket)
        let env = try environment(url)
        let first = try CLI.run(["run", job, "--progress", "never"], environment: env)
        #expect(first.status == 1, "\(first.output)")
        return FirstRun(bucket: bucket, emulator: emulator, dir: dir, job: job, env: env, reportKey: try await newReport(bucket))
    }

    @Test func onlyTheFailuresRunAgainAndTheNewReportLinksToTheOld() async throws {
        let failing: Set<Int> = [1, 2, 3, 5]
        var objects: [String: String] = [:]
        for i in 0..<6 { objects["in/t00\(i).txt"] = failing.contains(i) ? "bad \(i) [[error:ValidationException]]" : "fine \(i)" }
        let setup = try await firstRun(objects)
        defer { setup.cleanUp() }
        let (bucket, emulator, dir, job, env) = (setup.bucket, setup.emulator, setup.dir, setup.job, setup.env)
        let (firstKey, firstURI) = (setup.reportKey, setup.reportURI)
        #expect(emulator.stats.calls == 6)
        #expect(try await report(bucket, firstKey).counts.failed == 4)

        // meanwhile: t001 is fixed, t002 still fails, t003 is gone, t005's output was written
        // by other means, and a new input t006 arrived (not a failure: not retried)
        try await put(bucket, "in/t001.txt", "fixed 1")
        try await KitFixture.s3().deleteObject(bucket: bucket, key: "in/t003.txt")
        try await put(bucket, "out/t005.json", "{}")
        try await put(bucket, "in/t006.txt", "new 6")

        // the dry run lists what would be retried and calls nothing
        let plan = try CLI.run(["run", job, "--dry-run", "--retry-failed", firstURI], environment: env)
        #expect(plan.status == 0, "\(plan.output)")
        #expect(plan.output.contains("Retrying the failures of \(firstURI)"), "\(plan.output)")
        #expect(plan.output.contains("4 failed items, 3 found in the inputs"), "\(plan.output)")
        #expect(plan.output.contains("Would retry: t001, t002, t005"), "\(plan.output)")
        #expect(plan.output.contains("No longer in the inputs (1, cannot be retried): t003"), "\(plan.output)")
        #expect(emulator.stats.calls == 6)

        let retry = try CLI.run(["run", job, "--progress", "never", "--retry-failed", firstURI], environment: env)
        #expect(retry.status == 1, "\(retry.output)")  // t002 failed again
        #expect(emulator.stats.calls == 6 + 2)  // t001 and t002 only: t005 is skipped, t000, t004 and t006 untouched
        #expect(retry.output.contains("no longer in the inputs"), "\(retry.output)")
        let second = try await report(bucket, try await newReport(bucket, besides: [firstKey]))
        #expect(second.previousReport == firstURI)
        #expect(second.counts == RunReport.Counts(total: 3, succeeded: 1, failed: 1, skipped: 1))
        #expect(second.failures.map(\.id) == ["t002"])
        #expect(second.retryNotFound == 1)
        #expect(second.retryNotFoundIds == ["t003"])
        #expect(second.render().contains("failures of \(firstURI)"))
        let outputs = try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }
        #expect(!outputs.contains("out/t006.json"))
        #expect(outputs.contains("out/t001.json"))

        // a report of another job is refused before anything runs
        let other = try writeJob(dir, bucket: bucket, name: "other-job")
        let refused = try CLI.run(["run", other, "--progress", "never", "--retry-failed", firstURI], environment: env)
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("is a report of job 'retry-job', not of 'other-job'"), "\(refused.output)")
        #expect(emulator.stats.calls == 8)
    }

    @Test func withAShardOnlyThatShardsFailuresRun() async throws {
        var objects: [String: String] = [:]
        for i in 0..<12 {
            // two codes: ten failures of one code in a row would stop the run as "failing alike"
            objects[String(format: "in/s%02d.txt", i)] = i < 10 ? "bad \(i) [[error:\(i % 2 == 0 ? "ModelErrorException" : "ValidationException")]]" : "fine"
        }
        let setup = try await firstRun(objects)
        defer { setup.cleanUp() }
        let (bucket, emulator, job, env, firstKey) = (setup.bucket, setup.emulator, setup.job, setup.env, setup.reportKey)
        for i in 0..<10 { try await put(bucket, String(format: "in/s%02d.txt", i), "fixed \(i)") }
        let calls = emulator.stats.calls
        let shard = try Shard(index: 1, count: 2)
        let expected = (0..<10).map { String(format: "s%02d", $0) }.filter { shard.contains(id: $0) }
        #expect(!expected.isEmpty && expected.count < 10)  // the test means something
        let retry = try CLI.run(["run", job, "--progress", "never", "--shard", "1/2", "--retry-failed", "s3://\(bucket)/\(firstKey)"],
                                environment: env)
        #expect(retry.status == 0, "\(retry.output)")
        #expect(emulator.stats.calls - calls == expected.count)
        let second = try await report(bucket, try await newReport(bucket, besides: [firstKey]))
        #expect(second.shard == shard)
        #expect(second.counts.succeeded == expected.count)
        #expect(second.retryNotFound == 0)
    }

    /// A local manifest of `records`, and its URI.
    func manifest(_ dir: String, _ name: String, _ records: [ItemRecord]) async throws -> String {
        let writer = try ManifestWriter(destination: .file(path: dir + "/" + name))
        for record in records { writer.append(record) }
        return try await writer.finish(storage: Storage(s3: nil)).uri.description
    }

    func selection(_ dir: String, _ report: RunReport, job name: String = "retry-job") async throws -> RetrySelection {
        let path = dir + "/report.json"
        try report.encoded().write(to: URL(fileURLWithPath: path))
        let job = try KitFixture.job("""
            version: 1
            name: \(name)
            model: {id: m, maxTokens: 10}
            prompt: "{{input}}"
            inputs: {s3: in/}
            output: {s3: "out/{{item.name}}.json"}
            """, path: dir + "/job.yaml")
        return try await RetrySelection.load(report: .file(path: path), job: job, storage: Storage(s3: nil))
    }

    @Test func aMergedReportsManifestsAreAllReadAndUnusableReportsAreRefused() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try await manifest(dir, "a.items.jsonl", [.failed(id: "a1", code: "X", message: "m"), .succeeded(id: "a2", latencyMs: 5, inputTokens: 1, outputTokens: 1)])
        let b = try await manifest(dir, "b.items.jsonl", [.skipped(id: "b1"), .failed(id: "b2", code: "Y", message: "m")])
        var merged = RunReport(job: "retry-job", runId: "20261130T020000Z-aaaa", status: .partial, startedAt: Date(),
                               finishedAt: Date(), model: "m", counts: RunReport.Counts(total: 4, succeeded: 1, failed: 2, skipped: 1))
        merged.manifests = [a, b]
        let picked = try await selection(dir, merged)
        #expect(picked.failedIDs == ["a1", "b2"])
        #expect(picked.previousRunId == "20261130T020000Z-aaaa")
        #expect(picked.previousReport == "file://\(dir)/report.json")
        #expect(picked.notFound(found: ["a1"], shard: nil) == ["b2"])
        // a retry under the retried run's own id would overwrite its report
        #expect(throws: ConfigurationError.self) { try picked.check(newRunID: "20261130T020000Z-aaaa") }
        try picked.check(newRunID: "20261130T030000Z-bbbb")

        func refusal(_ report: RunReport, job: String = "retry-job") async -> String {
            do {
                _ = try await selection(dir, report, job: job)
                Issue.record("the report was accepted")
                return ""
            } catch {
                return (error as? ConfigurationError)?.message ?? "\(error)"
            }
        }
        #expect(await refusal(merged, job: "other").contains("is a report of job 'retry-job', not of 'other'"))
        var dry = merged
        dry.dryRun = true
        #expect(await refusal(dry).contains("is the report of a dry run"))
        var bare = merged
        bare.manifests = nil
        #expect(await refusal(bare).contains("names no item manifest"))
        var gone = merged
        gone.manifests = ["file://\(dir)/missing.items.jsonl"]
        #expect(await refusal(gone).contains("cannot read the manifest"))
    }
}
