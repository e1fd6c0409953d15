import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// examples/deploy/conveyor-cron, the cron wrapper, run as cron runs it: its environment file, log,
/// metrics file, and a line on standard error (for cron's mail) only when a person should look.
@Suite(.timeLimit(.minutes(3))) struct DeployExampleTests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func runWrapper(_ job: String, config: String, work: String, environment: [String: String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [TestServers.repositoryRoot.appendingPathComponent("examples/deploy/conveyor-cron").path, job]
        // cron's environment is nearly empty; the credentials come from the job's env file
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": work, "CONVEYOR": CLI.executable,
                               "CONVEYOR_CONFIG_DIR": config, "CONVEYOR_LOG_DIR": work + "/log",
                               "CONVEYOR_METRICS_DIR": work + "/textfile"].merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    @Test func theCronWrapperLogsWritesMetricsAndSpeaksOnlyWhenItMatters() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "first", "in/b.txt": "second"])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let work = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let config = work + "/etc"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        try """
            version: 1
            name: nightly
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 40}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            """.write(toFile: config + "/nightly.yaml", atomically: true, encoding: .utf8)
        try """
            AWS_ACCESS_KEY_ID=\(TestAWS.accessKey)
            AWS_SECRET_ACCESS_KEY=\(TestAWS.secretKey)
            AWS_REGION=us-east-1
            AWS_EC2_METADATA_DISABLED=true
            AWS_CONFIG_FILE=/dev/null
            AWS_SHARED_CREDENTIALS_FILE=/dev/null
            AWS_ENDPOINT_URL_S3=\(try TestAWS.proxyURL().absoluteString)
            AWS_ENDPOINT_URL_BEDROCK_RUNTIME=\(url)
            """.write(toFile: config + "/nightly.env", atomically: true, encoding: .utf8)

        let ok = try runWrapper("nightly", config: config, work: work, environment: [:])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.isEmpty && ok.stderr.isEmpty, "cron would mail: \(ok.stdout)\(ok.stderr)")
        let log = try String(contentsOfFile: work + "/log/nightly.log", encoding: .utf8)
        #expect(log.contains("\"message\": \"run finished\""), "\(log)")
        #expect(log.contains("2 succeeded"), "\(log)")
        let metrics = try String(contentsOfFile: work + "/textfile/conveyor-nightly.prom", encoding: .utf8)
        #expect(metrics.contains("conveyor_run_items{conveyor_job=\"nightly\",status=\"succeeded\"} 2\n"), "\(metrics)")
        #expect(emulator.stats.calls == 2)

        // an item that fails: exit 1, and one line for cron's mail
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "in/c.txt", body: Data("bad [[error:ValidationException]]".utf8),
                                                contentType: "text/plain")
        let failed = try runWrapper("nightly", config: config, work: work, environment: [:])
        #expect(failed.status == 1)
        #expect(failed.stderr == "conveyor: nightly finished with failed items (exit 1); the report lists them; log: \(work)/log/nightly.log\n")

        // a job that is not there: exit 2, said so
        let missing = try runWrapper("absent", config: config, work: work, environment: [:])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("conveyor: absent did not run"), "\(missing.stderr)")
        // a name that is not a job name is refused before anything runs
        let hostile = try runWrapper("../etc", config: config, work: work, environment: [:])
        #expect(hostile.status == 2)
        #expect(hostile.stderr.contains("is not a job name"), "\(hostile.stderr)")
    }
}
