import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor doctor`: the model id's forms, the configuration lines (offline), and a job checked
/// against moto behind the signature-checking proxy.
@Suite(.timeLimit(.minutes(3))) struct DoctorTests {
    @Test func modelIdForms() throws {
        let cases: [(String, ModelTarget.Form, String?)] = [
            ("anthropic.claude-3-haiku-20240307-v1:0", .foundationModel, "anthropic.claude-3-haiku-20240307-v1:0"),
            ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", .inferenceProfile, "anthropic.claude-3-7-sonnet-20250219-v1:0"),
            ("global.anthropic.claude-sonnet-4-20250514-v1:0", .inferenceProfile, "anthropic.claude-sonnet-4-20250514-v1:0"),
            ("arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0", .foundationModelARN, "amazon.nova-pro-v1:0"),
            ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
             .inferenceProfileARN, "anthropic.claude-3-7-sonnet-20250219-v1:0"),
            ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", .applicationInferenceProfileARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123", .provisionedModelARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:custom-model/x.y/abc", .customModelARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc", .customModelDeploymentARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:imported-model/abc", .importedModelARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:prompt/ABCDEFGHIJ:1", .promptARN, nil),
            ("arn:aws:bedrock:us-east-1:123456789012:default-prompt-router/anthropic.claude:1", .promptRouterARN, nil),
            ("arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint", .sageMakerEndpointARN, nil),
        ]
        for (text, form, model) in cases {
            let target = try ModelTarget.parse(text).get()
            #expect(target.form == form, "\(text)")
            #expect(target.foundationModelId == model, "\(text)")
        }
        for bad in ["claude", "arn:aws:s3:::bucket/key", "arn:aws:bedrock:us-east-1:1:knowledge-base/x", "a b.c", ""] {
            #expect(throws: ModelTargetError.self, "\(bad)") { try ModelTarget.parse(bad).get() }
        }
    }

    @Test func modelRegionConsistency() throws {
        func problem(_ id: String, _ region: String) throws -> (fatal: Bool, message: String)? {
            try ModelTarget.parse(id).get().regionProblem(modelRegion: region)
        }
        #expect(try problem("us.anthropic.claude-3-haiku-20240307-v1:0", "us-west-2") == nil)
        #expect(try problem("us.anthropic.claude-3-haiku-20240307-v1:0", "eu-west-1")?.fatal == true)
        #expect(try problem("eu.anthropic.claude-3-haiku-20240307-v1:0", "eu-central-1") == nil)
        #expect(try problem("apac.anthropic.claude-3-haiku-20240307-v1:0", "us-east-1")?.fatal == true)
        #expect(try problem("global.anthropic.claude-sonnet-4-20250514-v1:0", "ap-south-1") == nil)
        #expect(try problem("anthropic.claude-3-haiku-20240307-v1:0", "eu-west-3") == nil)
        let arn = "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0"
        #expect(try problem(arn, "eu-west-1") == nil)
        #expect(try problem(arn, "us-east-1")?.message.contains("eu-west-1") == true)
    }

    func environment(_ variables: [String: String]) -> AWSEnvironment {
        var all = ["AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                   "AWS_EC2_METADATA_DISABLED": "true"]
        for (k, v) in variables { all[k] = v }
        return AWSEnvironment(variables: all, homeDirectory: "/nonexistent")
    }

    @Test func configurationLinesSayWhereEachSettingCameFromAndShowNoSecret() async throws {
        let expiry = Date().addingTimeInterval(2 * 3600)
        let env = environment([
            "AWS_ACCESS_KEY_ID": "ASIATESTKEYID7Q2Z", "AWS_SECRET_ACCESS_KEY": "secret-\(UUID().uuidString)",
            "AWS_SESSION_TOKEN": "token-\(UUID().uuidString)", "AWS_CREDENTIAL_EXPIRATION": RunIdentity.iso8601(expiry),
            "AWS_REGION": "eu-west-2", "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:4566", "AWS_RETRY_MODE": "adaptive",
        ])
        let report = await Doctor.run(job: nil, environment: env)
        #expect(report.passed, "\(report.checks)")
        func line(_ section: String, _ contains: String) -> DoctorCheck? {
            report.checks.first { $0.section == section && $0.message.contains(contains) }
        }
        let credentials = try #require(line("credentials", "from environment"))
        #expect(credentials.message.contains("ending 7Q2Z"))
        #expect(credentials.message.contains("temporary"))
        #expect(credentials.message.contains("expires \(RunIdentity.iso8601(expiry))"))
        #expect(credentials.message.contains("chain: environment"))
        #expect(line("region", "eu-west-2 (from AWS_REGION)") != nil)
        #expect(line("endpoint", "ssm: http://127.0.0.1:4566 (override from AWS_ENDPOINT_URL_SSM)") != nil)
        #expect(line("endpoint", "s3: https://s3.eu-west-2.amazonaws.com (AWS default for eu-west-2)") != nil)
        #expect(line("endpoint", "sts: https://sts.eu-west-2.amazonaws.com") != nil)
        #expect(line("endpoint", "bedrock: https://bedrock.eu-west-2.amazonaws.com") != nil)
        #expect(line("retry", "mode adaptive (from AWS_RETRY_MODE), max attempts 3 (from default)") != nil)
        let all = report.checks.map { "\($0)" }.joined()
        #expect(!all.contains(env["AWS_SECRET_ACCESS_KEY"]!))
        #expect(!all.contains(env["AWS_SESSION_TOKEN"]!))
        #expect(!all.contains("ASIATESTKEYID"))
    }

    @Test func noCredentialsAndNoRegionFailWithWhatWasTried() async throws {
        let report = await Doctor.run(job: nil, environment: environment([:]))
        #expect(!report.passed)
        let credentials = try #require(report.checks.first { $0.section == "credentials" })
        #expect(credentials.status == .fail)
        #expect(credentials.hint?.contains("environment (") == true, "\(credentials)")
        #expect(report.checks.contains { $0.section == "region" && $0.status == .fail })
        #expect(report.checks.contains { $0.section == "endpoint" && $0.status == .fail && $0.message.hasPrefix("s3:") })
    }

    @Test func credentialsFromAProfilesProcessShowTheStepAndTheExpiry() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expiry = Date().addingTimeInterval(5 * 60)
        let secret = "process-secret-\(UUID().uuidString)"
        let script = dir + "/creds.sh"
        try """
            #!/bin/sh
            echo '{"Version": 1, "AccessKeyId": "ASIAPROCESSKEY9K4W", "SecretAccessKey": "\(secret)", \
            "SessionToken": "\(secret)-token", "Expiration": "\(RunIdentity.iso8601(expiry))"}'
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try "[profile batch]\ncredential_process = \(script)\nregion = ap-south-1\n"
            .write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let env = AWSEnvironment(variables: ["AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                                             "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "batch", "PATH": "/usr/bin:/bin"],
                                 homeDirectory: dir)
        let report = await Doctor.run(job: nil, environment: env)
        let credentials = try #require(report.checks.first { $0.section == "credentials" })
        #expect(credentials.message.hasPrefix("from credential_process, access key id ending 9K4W, temporary"), "\(credentials)")
        #expect(credentials.status == .warn, "expiring in 5 minutes: \(credentials)")  // a long run needs a refresh
        #expect(report.checks.contains { $0.section == "profile" && $0.message.contains("profile 'batch' (from AWS_PROFILE)") })
        #expect(report.checks.contains { $0.section == "region" && $0.message.contains("ap-south-1 (from profile 'batch'") })
        #expect(!"\(report.checks)".contains(secret))
    }

    @Test func expiredCredentialsFail() async throws {
        let env = environment(["AWS_ACCESS_KEY_ID": "AKIDEXPIRED0001", "AWS_SECRET_ACCESS_KEY": "x",
                               "AWS_SESSION_TOKEN": "t", "AWS_REGION": "us-east-1",
                               "AWS_CREDENTIAL_EXPIRATION": RunIdentity.iso8601(Date().addingTimeInterval(-60))])
        let report = await Doctor.run(job: nil, environment: env)
        #expect(report.checks.first { $0.section == "credentials" }?.status == .fail)
    }

    @Test func modelLinesOfAJob() throws {
        func checks(_ id: String, region: String) throws -> [DoctorCheck] {
            let job = try KitFixture.job("""
                version: 1
                name: m
                model: {id: "\(id)", region: \(region), maxTokens: 10}
                prompt: "x {{input}}"
                inputs: {s3: "s3://b-in/in/"}
                output: {s3: "s3://b-out/out/{{item.name}}.json"}
                """)
            return Doctor.modelChecks(job, modelRegion: (region, "model.region"))
        }
        #expect(try checks("eu.anthropic.claude-3-haiku-20240307-v1:0", region: "us-east-1").contains { $0.status == .fail })
        #expect(try checks("us.anthropic.claude-3-haiku-20240307-v1:0", region: "us-east-1").allSatisfy { $0.status == .ok })
        #expect(try checks("arn:aws:bedrock:us-east-1:123456789012:imported-model/abc", region: "us-east-1")
            .contains { $0.status == .fail && $0.message.contains("imported") })
    }

    // MARK: Against moto, through the signature-checking proxy, as the CLI runs it

    func writeJob(_ dir: String, _ text: String) throws -> String {
        let path = dir + "/job.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aMissingBucketAndAMissingParameterFailAndExitOne() async throws {
        let secret = "sekrit-\(UUID().uuidString)"
        let present = "/conveyor-test/\(TestAWS.uniqueName("doctor"))"
        let missing = "/conveyor-test/\(TestAWS.uniqueName("absent"))"
        try await KitFixture.putParameter(present, "Code word \(secret).", secure: true)
        let bucket = try await KitFixture.bucket(["in/a.txt": "a", "one.txt": "one"])
        let absentBucket = TestAWS.uniqueName("conveyor-absent")
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, """
            version: 1
            name: doctor-check
            model: {id: us.anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            system: {ssm: \(present)}
            prompt: {ssm: \(missing)}
            inputs: {s3: ["s3://\(bucket)/in/", "s3://\(bucket)/one.txt", "s3://\(bucket)/gone.txt"]}
            output: {s3: "s3://\(absentBucket)/out/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            """)
        let proxy = try TestAWS.proxyURL().absoluteString
        let environment = [
            "AWS_ENDPOINT_URL_S3": proxy, "AWS_ENDPOINT_URL_SSM": proxy,
            "AWS_ACCESS_KEY_ID": TestAWS.tokenAccessKey, "AWS_SECRET_ACCESS_KEY": TestAWS.tokenSecretKey,
            "AWS_SESSION_TOKEN": TestAWS.sessionToken,
        ]
        let text = try CLI.run(["doctor", job], environment: environment)
        #expect(text.status == 1, "\(text.output)")
        let lines = text.output.split(separator: "\n").map(String.init)
        func line(_ status: String, _ section: String, _ contains: String) -> Bool {
            lines.contains { $0.hasPrefix(status) && $0.contains(" \(section) ") && $0.contains(contains) }
        }
        #expect(line("ok", "credentials", "from environment, access key id ending \(TestAWS.tokenAccessKey.suffix(4))"),
                "\(text.output)")
        #expect(line("ok", "input", "s3://\(bucket)/in/: bucket \(bucket) reachable"), "\(text.output)")
        #expect(line("ok", "input", "s3://\(bucket)/one.txt: readable (3 bytes)"), "\(text.output)")
        #expect(line("fail", "input", "job.yaml:6:"), "\(text.output)")
        #expect(line("fail", "input", ": s3://\(bucket)/gone.txt: no such object"), "\(text.output)")
        #expect(line("fail", "output", "job.yaml:7:14: s3://\(absentBucket)/out/: the bucket does not exist"), "\(text.output)")
        #expect(line("ok", "report", "s3://\(bucket)/reports/"), "\(text.output)")
        #expect(line("ok", "report", "write permission is not tested"), "\(text.output)")
        #expect(line("ok", "ssm", "\(present) exists (SecureString)"), "\(text.output)")
        #expect(line("fail", "ssm", "the parameter \(missing) does not exist"), "\(text.output)")
        #expect(text.output.contains("hint: create it (aws ssm put-parameter)"))
        let json = try CLI.run(["doctor", job, "--json"], environment: environment)
        #expect(json.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["passed"] as? Bool == false)
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.contains { $0["status"] as? String == "fail" && $0["section"] as? String == "ssm" })
        #expect(checks.count == lines.filter { $0.hasPrefix("ok") || $0.hasPrefix("warn") || $0.hasPrefix("fail") }.count)
        for output in [text.output, json.output] {
            #expect(!output.contains(secret), "the SecureString value leaked")
            #expect(!output.contains(TestAWS.tokenSecretKey), "the secret key leaked")
            #expect(!output.contains(TestAWS.sessionToken), "the session token leaked")
            #expect(!output.contains(TestAWS.tokenAccessKey), "the whole access key id was shown")
        }
    }

    @Test func aBucketInAnotherRegionIsAWarning() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "a"])
        try await TestAWS.proxyRules(bucketRegions: [bucket: "eu-central-1"])
        let job = try KitFixture.job("""
            version: 1
            name: elsewhere
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 10}
            prompt: "x {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/{{item.name}}.json"}
            """)
        let env = environment(["AWS_ACCESS_KEY_ID": TestAWS.accessKey, "AWS_SECRET_ACCESS_KEY": TestAWS.secretKey,
                               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString])
        let report = await Doctor.run(job: job, environment: env)
        let input = try #require(report.checks.first { $0.section == "input" })
        #expect(input.status == .warn, "\(input)")
        #expect(input.message.contains("the bucket is in eu-central-1, not us-east-1"), "\(input)")
        #expect(report.passed)
    }

    @Test func aHealthyJobExitsZeroAndBadArgumentsExitTwo() async throws {
        let bucket = try await KitFixture.bucket(["in/a.txt": "a"])
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try KitFixture.writeJob(dir, bucket: bucket, name: "doctor-ok", concurrency: 4)
        let environment = ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString]
        let healthy = try CLI.run(["doctor", job], environment: environment)
        #expect(healthy.status == 0, "\(healthy.output)")
        #expect(!healthy.output.contains("\nfail"), "\(healthy.output)")
        let bad = try writeJob(dir, "version: 1\nname: Bad Name\n")
        let invalid = try CLI.run(["doctor", bad], environment: environment)
        #expect(invalid.status == 2, "\(invalid.output)")
        #expect(invalid.output.contains("job.yaml:2:"), "\(invalid.output)")
        #expect(try CLI.run(["doctor", "--policy"], environment: environment).status == 2)
        #expect(try CLI.run(["doctor", "--policy", job, "--account", "12"], environment: environment).status == 2)
        #expect(try CLI.run(["doctor", job, "--account", "123456789012"], environment: environment).status == 2)
        #expect(try CLI.run(["doctor", "--policy", job, "--json"], environment: environment).status == 2)
    }
}
