import AWSCore
import AWSServices
import ConverseEmulator
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
@testable import ConveyorKit

/// Collects results for assertions.
final class Collected: RunRecorder {
    let results = Mutex<[ItemResult]>([])
    func record(_ result: ItemResult) { results.withLock { $0.append(result) } }
    var all: [ItemResult] { results.withLock { $0 }.sorted { $0.index < $1.index } }
    func count(_ status: ItemResult.Status) -> Int { all.filter { $0.status == status }.count }
}

/// The runner end to end: inputs and outputs in moto (through the signature-checking proxy),
/// the model played by the emulator.
@Suite(.timeLimit(.minutes(3))) struct RunnerTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func job(_ bucket: String, items: Int = 0, extra: String = "", prompt: String = "Summarise {{item.name}}: {{input}}",
             onExisting: String = "skip", concurrency: Int = 8) throws -> Job {
        try KitFixture.job("""
            version: 1
            name: runner-test
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
            prompt: "\(prompt)"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json", onExisting: \(onExisting)}
            limits: {concurrency: \(concurrency), maxAttempts: 20}
            \(extra)
            """)
    }

    func seed(_ count: Int, text: (Int) -> String = { "ticket number \($0)" }) async throws -> String {
        var objects: [String: String] = [:]
        for i in 0..<count { objects[String(format: "in/t%03d.txt", i)] = text(i) }
        return try await KitFixture.bucket(objects)
    }

    func run(_ job: Job, emulator url: String, options: RunOptions = RunOptions(), pacing: (any CallPacing)? = nil) async throws
        -> (Runner, Collected)
    {
        let services = try KitFixture.services(bedrockURL: url)
        let recorder = Collected()
        let runner = Runner(job: job, services: services, options: options, recorder: recorder, logger: logger, pacing: pacing)
        try await runner.run()
        return (runner, recorder)
    }

    @Test func outputsHoldTheAnswerToTheRenderedPromptAndARerunSkipsEverything() async throws {
        let bucket = try await seed(12)
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 20 }
        defer { try? emulator.stop() }
        let job = try job(bucket)
        let (runner, first) = try await run(job, emulator: url)
        #expect(runner.stopReason == nil)
        #expect(first.count(.succeeded) == 12)
        let object = try await KitFixture.s3().getObject(bucket: bucket, key: "out/t003.json")
        let record = try JSONValue.parse(object.body)
        #expect(record["text"] == "Echo: Summarise t003: ticket number 3")
        #expect(record["item"]?["id"] == "t003")
        #expect(record["item"]?["key"] == "in/t003.txt")
        #expect(record["runId"]?.stringValue == runner.identity.id)
        #expect(record["attempts"] == 1)
        #expect(record["usage"]?["totalTokens"]?.intValue == first.all[3].usage?.totalTokens)
        #expect(object.metadata.contentType == "application/json")
        // usage in the results matches what the emulator counted
        #expect(first.all.reduce(0) { $0 + ($1.usage?.inputTokens ?? 0) } == emulator.stats.inputTokens)
        #expect(first.all.reduce(0) { $0 + ($1.usage?.outputTokens ?? 0) } == emulator.stats.outputTokens)
        // a rerun makes no model call
        let callsBefore = emulator.stats.calls
        let (_, second) = try await run(job, emulator: url)
        #expect(second.count(.skipped) == 12)
        #expect(emulator.stats.calls == callsBefore)
    }

    @Test func throttlingWithNoQuotaConfiguredLosesNothing() async throws {
        let bucket = try await seed(40)
        // 600 requests a minute with a one-second burst: a pool of 8 is throttled often
        let (emulator, url) = try KitFixture.startEmulator {
            $0.requestsPerMinute = 600
            $0.burstSeconds = 1
            $0.latencyMs = 50
        }
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try job(bucket), emulator: url)
        #expect(runner.stopReason == nil)
        #expect(results.count(.succeeded) == 40)
        #expect(emulator.stats.accepted == 40)
        #expect(try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }.count == 40)
        #expect(results.all.reduce(0) { $0 + $1.throttles } == emulator.stats.throttled)
    }

    @Test func faultsAndDropsAreRetriedUntilEveryItemSucceeds() async throws {
        let bucket = try await seed(30)
        let (emulator, url) = try KitFixture.startEmulator {
            $0.faultRate = 0.15
            $0.dropRate = 0.05
            $0.seed = 42
        }
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try job(bucket), emulator: url)
        #expect(runner.stopReason == nil)
        #expect(results.count(.succeeded) == 30)
        #expect(emulator.stats.faults + emulator.stats.drops > 0)
        #expect(results.all.reduce(0) { $0 + $1.attempts } == emulator.stats.calls)
    }

    @Test func aRejectedInputFailsOnlyItsItem() async throws {
        let bucket = try await seed(6) { $0 == 2 ? "bad [[error:ValidationException]]" : ($0 == 4 ? "" : "fine \($0)") }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try job(bucket), emulator: url)
        #expect(runner.stopReason == nil)
        #expect(results.count(.succeeded) == 4)
        let failed = results.all.filter { $0.status == .failed }
        #expect(failed.map(\.id) == ["t002", "t004"])
        #expect(failed.map(\.errorCode) == ["ValidationException", "EmptyInput"])
        #expect(failed[0].attempts == 1)
    }

    @Test func aMissingModelAbortsAfterOneCall() async throws {
        let bucket = try await seed(20) { _ in "x [[error:ResourceNotFoundException]]" }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try job(bucket, concurrency: 16), emulator: url)
        guard case .fatal = runner.stopReason else {
            Issue.record("expected a fatal stop, got \(String(describing: runner.stopReason))")
            return
        }
        #expect(emulator.stats.calls == 1)
        #expect(results.count(.failed) == 1)
    }

    @Test func deniedOutputBucketAborts() async throws {
        let bucket = try await seed(10)
        try await TestAWS.proxyRules(denyBuckets: [bucket: "write"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, _) = try await run(try job(bucket, concurrency: 1), emulator: url)
        guard case .fatal(let message) = runner.stopReason else {
            Issue.record("expected a fatal stop, got \(String(describing: runner.stopReason))")
            return
        }
        #expect(message.contains("AccessDenied"))
        #expect(emulator.stats.calls == 1)  // the probe item alone
    }

    @Test func maxFailuresStopsTheRun() async throws {
        let bucket = try await seed(30) { $0 % 2 == 0 ? "x [[error:ModelErrorException]]" : "fine" }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (runner, results) = try await run(try job(bucket, extra: "", concurrency: 1)
                                                .with { $0.limits.maxFailures = .count(3) }, emulator: url)
        guard case .maxFailures = runner.stopReason else {
            Issue.record("expected maxFailures, got \(String(describing: runner.stopReason))")
            return
        }
        // the fourth failure stops admissions; a call already admitted (concurrency 1) may finish
        #expect((4...5).contains(results.count(.failed)))
        #expect(results.all.count < 30)
    }

    @Test func budgetStopsAdmittingBeforeItIsPassed() async throws {
        // long inputs: the emulator's echo runs to maxTokens, so each call costs its worst case
        let bucket = try await seed(40) { "ticket \($0) " + String(repeating: "lorem ipsum ", count: 60) }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        // $1 per 1,000 output tokens and maxTokens 100: each call's worst case is about $0.10
        let job = try job(bucket, concurrency: 4).with {
            $0.limits.budgetUSD = 0.55
            $0.model.pricing = PricingOverride(inputPer1k: 0, outputPer1k: 1)
        }
        let (runner, results) = try await run(job, emulator: url)
        guard case .budget = runner.stopReason else {
            Issue.record("expected a budget stop, got \(String(describing: runner.stopReason))")
            return
        }
        let spent = results.all.reduce(0) { $0 + $1.costUSD }
        #expect(spent <= 0.55)
        #expect(spent >= 0.3)
        #expect(emulator.stats.calls <= 5)  // five worst cases fit in the budget, not six
        #expect(results.count(.succeeded) == emulator.stats.accepted)
    }

    @Test func whatThisVersionCannotRunIsRefused() async throws {
        let bucket = try await seed(1)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        for change in [{ (j: inout Job) in j.limits.budgetUSD = 1; j.model.id = "acme.unknown-model-v1" }] {
            do {
                _ = try await run(try job(bucket).with(change), emulator: url)
                Issue.record("ran a job this version cannot run")
            } catch let error as ConfigurationError {
                #expect(error.message.contains("not available in this version") || error.message.contains("model.pricing"))
            }
        }
        #expect(emulator.stats.calls == 0)
    }

    @Test func onExistingFailAndOverwrite() async throws {
        let bucket = try await seed(3)
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "out/t001.json", body: Data("old".utf8),
                                                contentType: "text/plain")
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let (_, failing) = try await run(try job(bucket, onExisting: "fail"), emulator: url)
        #expect(failing.all.first { $0.id == "t001" }?.errorCode == "OutputExists")
        #expect(failing.count(.succeeded) == 2)
        let (_, overwriting) = try await run(try job(bucket, onExisting: "overwrite"), emulator: url)
        #expect(overwriting.count(.succeeded) == 3)
        let body = try await KitFixture.s3().getObject(bucket: bucket, key: "out/t001.json").body
        #expect(String(decoding: body, as: UTF8.self).contains("Echo:"))
    }

    @Test func interruptStopsAdmittingAndDrains() async throws {
        let bucket = try await seed(30)
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 300 }
        defer { try? emulator.stop() }
        let services = try KitFixture.services(bedrockURL: url)
        let recorder = Collected()
        let runner = Runner(job: try job(bucket, concurrency: 4), services: services, recorder: recorder, logger: logger)
        let task = Task { try await runner.run() }
        // interrupt once the first results are in
        try await waitUntil("2 results") { recorder.all.count >= 2 }
        runner.interrupt()
        try await task.value
        #expect(runner.stopReason == .interrupted)
        let done = recorder.all
        #expect(done.count < 30)
        #expect(done.allSatisfy { $0.status == .succeeded })  // calls in flight finished and were written
        #expect(emulator.stats.accepted == done.count)
        #expect(try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }.count == done.count)
    }
}

extension Job {
    func with(_ change: (inout Job) -> Void) -> Job {
        var copy = self
        change(&copy)
        return copy
    }
}

