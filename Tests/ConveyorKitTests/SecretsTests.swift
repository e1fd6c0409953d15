import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// Secrets never reach logs, reports, manifests or error text: a run with a SecureString system
/// prompt and session credentials, at trace level, is searched for every one of them.
@Suite(.timeLimit(.minutes(3))) struct SecretsTests {
    @Test func aRunNeverShowsSecrets() async throws {
        let secret = "sekrit-\(UUID().uuidString)"
        let parameter = "/conveyor-test/\(TestAWS.uniqueName("secret"))"
        try await KitFixture.putParameter(parameter, "You are careful. Code word \(secret).", secure: true)
        var objects: [String: String] = [:]
        for i in 0..<4 { objects["in/\(i).txt"] = "ticket \(i)" }
        objects["in/bad.txt"] = "x [[error:ValidationException]]"
        let bucket = try await KitFixture.bucket(objects)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = dir + "/job.yaml"
        try """
            version: 1
            name: secrets
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            system: {ssm: \(parameter)}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            """.write(toFile: job, atomically: true, encoding: .utf8)
        let environment = [
            "AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString,
            "AWS_ENDPOINT_URL_SSM": try TestAWS.proxyURL().absoluteString,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
            "AWS_ACCESS_KEY_ID": TestAWS.tokenAccessKey, "AWS_SECRET_ACCESS_KEY": TestAWS.tokenSecretKey,
            "AWS_SESSION_TOKEN": TestAWS.sessionToken,
        ]
        let run = try CLI.run(["run", job, "--log-level", "trace", "--log-format", "json", "--progress", "always"],
                              environment: environment)
        #expect(run.status == 1, "\(run.output)")  // the bad item fails, the others succeed
        let plan = try CLI.run(["plan", job, "--show", "5"], environment: environment)
        #expect(plan.status == 0, "\(plan.output)")
        #expect(plan.output.contains(parameter))
        var texts = [run.output, plan.output]
        for key in try await KitFixture.keys(bucket) where !key.hasPrefix("in/") {
            texts.append(String(decoding: try await KitFixture.s3().getObject(bucket: bucket, key: key).body, as: UTF8.self))
        }
        #expect(texts.count >= 3 + 4)  // two command outputs, four outputs, report and manifest
        for text in texts {
            #expect(!text.contains(secret), "the SecureString value leaked")
            #expect(!text.contains(TestAWS.tokenSecretKey), "the secret key leaked")
            #expect(!text.contains(TestAWS.sessionToken), "the session token leaked")
            #expect(!text.contains("Signature="), "a signature leaked")
        }
    }

    /// The same through retries (faults at S3 and the model, logged at trace level as text), a
    /// crash (SIGKILL: what it printed, its lock, the manifest spool file it left in TMPDIR), the
    /// rerun, and a SecureString prompt that is not a valid template (exit 2).
    @Test func retriesCrashesAndErrorsNeverShowSecrets() async throws {
        let secret = "sekrit-\(UUID().uuidString)"
        let parameter = "/conveyor-test/\(TestAWS.uniqueName("secret"))"
        try await KitFixture.putParameter(parameter, "You are careful. Code word \(secret).", secure: true)
        let badParameter = "/conveyor-test/\(TestAWS.uniqueName("badsecret"))"
        try await KitFixture.putParameter(badParameter, "Code word \(secret): {{nope}}", secure: true)
        // items from the ninth on answer only after ten minutes, until the crashed run is gone
        let bucket = try await RunCommandTests().seed(24) { $0 >= 8 ? "ticket \($0) [[latency:600000]]" : "ticket \($0)" }
        let faults = try FaultProxy.start(upstream: try TestAWS.proxyURL())
        try await faults.configure(FaultInjectionTests.s3Faults(bucket), seed: 3, maxConsecutive: 2)
        let (emulator, url) = try KitFixture.startEmulator {
            $0.faultRate = 0.2
            $0.latencyMs = 100
        }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        func job(_ name: String, prompt: String) throws -> String {
            let path = dir + "/\(name).yaml"
            try """
                version: 1
                name: \(name)
                model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
                system: {ssm: \(parameter)}
                prompt: \(prompt)
                inputs: {s3: "s3://\(bucket)/in/"}
                output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
                report: s3://\(bucket)/reports/{{run.id}}.json
                limits: {concurrency: 4}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let environment = [
            "AWS_ENDPOINT_URL_S3": faults.url.absoluteString, "AWS_ENDPOINT_URL_SSM": try TestAWS.proxyURL().absoluteString,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url, "TMPDIR": dir + "/tmp",
            "AWS_ACCESS_KEY_ID": TestAWS.tokenAccessKey, "AWS_SECRET_ACCESS_KEY": TestAWS.tokenSecretKey,
            "AWS_SESSION_TOKEN": TestAWS.sessionToken,
        ]
        let arguments = ["--log-level", "trace", "--log-format", "text", "--progress", "always"]
        let crashing = try CLI.start(["run", try job("secrets-crash", prompt: "\"Summarise: {{input}}\"")] + arguments,
                                     environment: environment)
        try await waitUntil("6 calls answered") { emulator.stats.accepted >= 6 || !crashing.isRunning }
        #expect(crashing.isRunning)
        kill(crashing.processIdentifier, SIGKILL)
        var texts = [CLI.finish(crashing)]
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").contains { $0.hasPrefix("conveyor-manifest-") })
        for i in 8..<24 {
            _ = try await KitFixture.s3().putObject(bucket: bucket, key: String(format: "in/t%03d.txt", i),
                                                    body: Data("ticket \(i)".utf8), contentType: "text/plain")
        }
        let rerun = try CLI.run(["run", try job("secrets-crash", prompt: "\"Summarise: {{input}}\""), "--break-lock"] + arguments,
                                environment: environment)
        #expect(rerun.status == 0, "\(rerun.output)")
        texts.append(rerun.output)
        let invalid = try CLI.run(["run", try job("secrets-bad", prompt: "{ssm: \(badParameter)}")] + arguments,
                                  environment: environment)
        #expect(invalid.status == 2, "\(invalid.output)")
        #expect(invalid.output.contains(badParameter), "\(invalid.output)")
        texts.append(invalid.output)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp") {
            texts.append(try String(contentsOfFile: dir + "/tmp/" + name, encoding: .utf8))  // the crashed run's spool
        }
        for key in try await KitFixture.keys(bucket) where !key.hasPrefix("in/") {
            texts.append(String(decoding: try await KitFixture.s3().getObject(bucket: bucket, key: key).body, as: UTF8.self))
        }
        #expect(texts.count >= 3 + 1 + 24 + 2)
        #expect(try await faults.stats().totalFaults > 0)
        #expect(emulator.stats.faults > 0)
        #expect(texts[0].contains("retrying") || texts[1].contains("retrying"))  // the retries were logged
        for text in texts {
            #expect(!text.contains(secret), "the SecureString value leaked")
            #expect(!text.contains(TestAWS.tokenSecretKey), "the secret key leaked")
            #expect(!text.contains(TestAWS.sessionToken), "the session token leaked")
            #expect(!text.contains("Signature="), "a signature leaked")
            #expect(!text.lowercased().contains("x-amz-security-token:"), "a token header leaked")
        }
    }
}
