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
}
