import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor run` as cron runs it: exit codes, the lock, signals, crashes.
@Suite(.timeLimit(.minutes(3))) struct RunCommandTests {
    func writeJob(_ dir: String, bucket: String, concurrency: Int = 4, extra: String = "") throws -> String {
        try KitFixture.writeJob(dir, bucket: bucket, name: "cli-run", concurrency: concurrency, extra: extra)
    }

    func seed(_ count: Int, text: (Int) -> String = { "ticket \($0)" }) async throws -> String {
        var objects: [String: String] = [:]
        for i in 0..<count { objects[String(format: "in/t%03d.txt", i)] = text(i) }
        return try await KitFixture.bucket(objects)
    }

    func environment(_ emulator: String) throws -> [String: String] {
        ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator]
    }

    @Test func exitCodesAndTheReport() async throws {
        let bucket = try await seed(5) { $0 == 3 ? "bad [[error:ValidationException]]" : "fine \($0)" }
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        let first = try CLI.run(["run", job, "--progress", "never"], environment: try environment(url))
        #expect(first.status == 1, "\(first.output)")  // one item failed
        #expect(first.output.contains("4 succeeded, 1 failed"), "\(first.output)")
        let report = try #require(try await KitFixture.reports(bucket).first)
        #expect(report.status == .partial)
        #expect(report.counts.total == 5)
        #expect(report.failures.first?.code == "ValidationException")
        #expect(report.usage.inputTokens == emulator.stats.inputTokens)
        let manifest = try #require(report.manifest)
        #expect(manifest.hasSuffix(".items.jsonl"))
        // the rerun skips the four written outputs and fails the bad one again
        let second = try CLI.run(["run", job, "--progress", "never"], environment: try environment(url))
        #expect(second.status == 1)
        #expect(second.output.contains("0 succeeded, 1 failed, 4 skipped"), "\(second.output)")
    }

    @Test func aHeldLockExitsThree() async throws {
        let bucket = try await seed(2)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        // another run's fresh lock, where the job's lock lives: beside the report
        let holder = LockRecord(runId: "20261130T000000Z-beef", host: "other-host", pid: 4242, startedAt: Date(),
                                heartbeatAt: Date(), conveyorVersion: "test")
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "reports/cli-run.lock", body: holder.encoded,
                                                contentType: "application/json")
        let locked = try CLI.run(["run", job, "--progress", "never"], environment: try environment(url))
        #expect(locked.status == 3, "\(locked.output)")
        #expect(locked.output.contains("20261130T000000Z-beef"), "\(locked.output)")
        #expect(locked.output.contains("other-host"))
        #expect(emulator.stats.calls == 0)
        let broken = try CLI.run(["run", job, "--progress", "never", "--break-lock"], environment: try environment(url))
        #expect(broken.status == 0, "\(broken.output)")
        #expect(!(try await KitFixture.keys(bucket).contains("reports/cli-run.lock")))  // released at the end
    }

    @Test func sigtermDrainsWritesAnInterruptedReportAndExits130() async throws {
        let bucket = try await seed(40)
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 400 }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket)
        let process = try CLI.start(["run", job, "--progress", "never"], environment: try environment(url))
        // wait until calls are flowing, then ask it to stop
        try await waitUntil("3 calls answered") { emulator.stats.accepted >= 3 || !process.isRunning }
        kill(process.processIdentifier, SIGTERM)
        let output = CLI.finish(process)
        #expect(process.terminationStatus == 130, "\(output)")
        let report = try #require(try await KitFixture.reports(bucket).first, "\(output)")
        #expect(report.status == .interrupted)
        #expect(report.counts.succeeded == emulator.stats.accepted)  // every call made was drained and recorded
        #expect(report.counts.succeeded < 40)
        let outputs = try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }
        #expect(outputs.count == report.counts.succeeded)
    }
}

extension CLI {
    /// Starts `conveyor` with test credentials and `environment`; with `umask`, under that umask.
    static func start(_ arguments: [String], environment: [String: String], umask: mode_t? = nil) throws -> Process {
        let process = Process()
        if let umask {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "umask \(String(umask, radix: 8)) && exec \"$0\" \"$@\"", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = TestAWS.accessKey
        env["AWS_SECRET_ACCESS_KEY"] = TestAWS.secretKey
        env["AWS_REGION"] = "us-east-1"
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = "/dev/null"
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        env.removeValue(forKey: "AWS_PROFILE")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return process
    }

    static func finish(_ process: Process) -> String {
        let pipe = process.standardOutput as! Pipe
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }
}

/// Polls `condition` every 10 ms; fails (rather than hangs) after `seconds`.
func waitUntil(_ what: String, seconds: Double = 60, _ condition: () async -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !(await condition()) {
        if Date() > deadline {
            Issue.record("gave up waiting for \(what)")
            throw TestServerError(message: "gave up waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
