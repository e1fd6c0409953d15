import AWSCore
import AWSServices
import Foundation
import Logging
import Testing
import TestSupport
@testable import ConveyorKit

/// Runs through a flaky network: S3 behind the fault-injecting proxy (500 InternalError, 503
/// SlowDown, connection resets before and after the request took effect, slow answers), the
/// model behind the emulator's own faults and dropped connections. Every item must still
/// succeed, and no object may be written twice (the proxy counts the PUTs that took effect).
@Suite(.timeLimit(.minutes(5))) struct FaultInjectionTests {
    /// 15% of S3 requests broken, mixed; `maxConsecutive: 2` lets a request through after two
    /// faults in a row on it, so that the default 3 attempts always get through whatever the
    /// order the requests arrive in.
    static func s3Faults(_ bucket: String) -> [FaultProxy.Rule] {
        let path = "^/\(bucket)(/|$)"
        return [
            FaultProxy.Rule(.error, path: path, status: 500, code: "InternalError", rate: 0.04),
            FaultProxy.Rule(.error, path: path, status: 503, code: "SlowDown", rate: 0.04),
            FaultProxy.Rule(.reset, path: path, rate: 0.03),
            FaultProxy.Rule(.resetAfter, path: path, rate: 0.02),
            FaultProxy.Rule(.slow, path: path, delayMs: 300, rate: 0.02),
        ]
    }

    @Test func fifteenPercentOfS3AndModelCallsFailingLosesNothingAndWritesNothingTwice() async throws {
        let bucket = try await RunCommandTests().seed(40)
        let faults = try FaultProxy.start(upstream: try TestAWS.proxyURL())
        try await faults.configure(Self.s3Faults(bucket), seed: 7, maxConsecutive: 2)
        // the model: 10% errors (500, 503, 408) and 5% connections dropped mid-answer
        let (emulator, url) = try KitFixture.startEmulator {
            $0.faultRate = 0.10
            $0.dropRate = 0.05
            $0.seed = 7
        }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try RunCommandTests().writeJob(dir, bucket: bucket, concurrency: 8)
        let run = try CLI.run(["run", job, "--progress", "never", "--log-level", "debug"],
                              environment: ["AWS_ENDPOINT_URL_S3": faults.url.absoluteString,
                                            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url])
        #expect(run.status == 0, "\(run.output)")
        let stats = try await faults.stats()
        #expect(stats.totalFaults >= 10, "\(stats.faults)")  // the proxy did break requests
        #expect(emulator.stats.faults + emulator.stats.drops >= 4)
        let report = try #require(try await KitFixture.reports(bucket).first, "\(run.output)")
        #expect(report.status == .succeeded)
        #expect(report.counts.succeeded == 40)
        #expect(report.calls.attempts == emulator.stats.calls)
        let outputs = try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }
        #expect(outputs.count == 40)
        for key in outputs {
            // written once: a retried PUT found the first one's object and wrote nothing
            #expect(stats.written["/\(bucket)/\(key)"] == 1, "\(key): \(stats.written["/\(bucket)/\(key)"] ?? 0) writes")
            let body = try await KitFixture.s3().getObject(bucket: bucket, key: key).body
            #expect(try JSONValue.parse(body)["text"]?.stringValue?.hasPrefix("Echo: ") == true)
        }
        #expect(stats.written.filter { $0.key.hasPrefix("/\(bucket)/reports/") && $0.key.hasSuffix(".json") }.values
            .allSatisfy { $0 == 1 })
    }

    @Test func aWriteWhoseAnswerWasLostCountsAsTheItemsOwn() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "alpha", "in/b.txt": "bravo"])
        let faults = try FaultProxy.start(upstream: try TestAWS.proxyURL())
        // the PUT of a's output reaches S3, and its answer is lost: the retry gets 412
        try await faults.configure([FaultProxy.Rule(.resetAfter, method: "PUT", path: "^/\(bucket)/out/a\\.json$", times: 1)])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let s3 = S3Client(client: try KitFixture.awsClient(S3Client.serviceInfo, endpoint: faults.url.absoluteString))
        var services = try KitFixture.services(bedrockURL: url)
        services.storage = Storage(s3: s3)
        let job = try KitFixture.job("""
            version: 1
            name: lost-answer
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 20}
            prompt: "{{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            """)
        let recorder = Collected()
        let runner = Runner(job: job, services: services, recorder: recorder,
                            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await runner.run()
        let stats = try await faults.stats()
        #expect(stats.faults["reset-after"] == 1)
        #expect(stats.puts["/\(bucket)/out/a.json"] == 2)  // the first PUT and its retry
        #expect(stats.written["/\(bucket)/out/a.json"] == 1)  // only the first took effect
        #expect(recorder.all.map(\.status) == [.succeeded, .succeeded])
        #expect(emulator.stats.calls == 2)
        // a rerun finds both outputs and skips them without a call
        let again = Collected()
        try await Runner(job: job, services: services, recorder: again,
                         logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }).run()
        #expect(again.all.map(\.status) == [.skipped, .skipped])
        #expect(emulator.stats.calls == 2)
    }
}
