import AWSCore
import AWSServices
import Foundation
import Testing
import TestSupport
@testable import ConverseEmulator

/// BedrockClient (the batch control plane) against the emulator over real HTTP, with signatures
/// checked; the emulator's jobs read and write moto's S3 through the signature-checking proxy.
@Suite(.timeLimit(.minutes(2))) struct BatchJobsTests {
    static let model = "anthropic.claude-3-haiku-20240307-v1:0"
    static let role = "arn:aws:iam::123456789012:role/bedrock-batch"

    struct Setup {
        let bedrock: BedrockClient
        let s3: S3Client
        let server: ConverseEmulatorServer
        let bucket: String
    }

    func withEmulator(minRecords: Int = 2, maxJobs: Int = 10, _ body: (Setup) async throws -> Void) async throws {
        let proxy = try TestAWS.proxyURL().absoluteString
        var config = EmulatorConfiguration()
        config.accessKey = "AKIDEMU"
        config.secretKey = "emu-secret"
        config.batch.s3Endpoint = proxy
        config.batch.s3AccessKey = TestAWS.accessKey
        config.batch.s3SecretKey = TestAWS.secretKey
        config.batch.minRecords = minRecords
        config.batch.maxActiveJobsPerModel = maxJobs
        let server = ConverseEmulatorServer(configuration: config, threads: 1)
        let port = try server.start()
        defer { try? server.stop() }
        let bedrock = BedrockClient(client: AWSClient(
            service: BedrockClient.serviceInfo, region: "us-east-1", endpoint: Endpoint(url: "http://127.0.0.1:\(port)")!,
            credentials: StaticCredentialProvider(Credentials(accessKeyId: "AKIDEMU", secretAccessKey: "emu-secret")),
            transport: CurlTransport.shared, retry: RetryConfiguration(mode: .standard, maxAttempts: 1)))
        let s3 = S3Client(client: AWSClient(
            service: S3Client.serviceInfo, region: "us-east-1", endpoint: Endpoint(url: proxy)!,
            credentials: StaticCredentialProvider(Credentials(accessKeyId: TestAWS.accessKey, secretAccessKey: TestAWS.secretKey)),
            transport: CurlTransport.shared))
        let bucket = TestAWS.uniqueName("conveyor-batch")
        _ = try await s3.client.send(HTTPRequest(method: "PUT", endpoint: s3.client.endpoint, path: "/\(bucket)"),
                                     operation: "CreateBucket")
        try await body(Setup(bedrock: bedrock, s3: s3, server: server, bucket: bucket))
    }

    func records(_ texts: [String]) -> Data {
        var data = Data()
        for (i, text) in texts.enumerated() {
            let line: JSONValue = ["recordId": .string("rec\(i)"), "modelInput": [
                "messages": [["role": "user", "content": [["text": .string(text)]]]],
                "inferenceConfig": ["maxTokens": 100],
            ]]
            data.append(line.serialized())
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    func request(_ bucket: String, token: String? = nil, name: String = "job-1") -> ModelInvocationJobRequest {
        ModelInvocationJobRequest(jobName: name, roleArn: Self.role, modelId: Self.model,
                                  inputS3Uri: "s3://\(bucket)/in/records.jsonl", outputS3Uri: "s3://\(bucket)/out/",
                                  clientRequestToken: token, timeoutDurationInHours: 24)
    }

    /// ListModelInvocationJobs, signed, with an optional statusEquals: the ARNs.
    func listed(_ setup: Setup, status: String?) async throws -> [String] {
        let response = try await setup.bedrock.client.send(
            HTTPRequest(method: "GET", endpoint: setup.bedrock.client.endpoint, path: "/model-invocation-jobs",
                        query: status.map { [("statusEquals", $0)] } ?? []),
            operation: "ListModelInvocationJobs")
        let body = try JSONValue.parse(response.body)
        return (body["invocationJobSummaries"]?.arrayValue ?? []).compactMap { $0["jobArn"]?.stringValue }
    }

    /// Polls until the job ends (bounded: at most 400 checks).
    func waitForEnd(_ bedrock: BedrockClient, _ arn: String) async throws -> ModelInvocationJob {
        for _ in 0..<400 {
            let job = try await bedrock.getModelInvocationJob(arn)
            if job.status.isFinal { return job }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the batch job \(arn) did not end")
        return try await bedrock.getModelInvocationJob(arn)
    }

    @Test func aJobAnswersEveryRecordAndWritesItsOutputsAsBedrockDoes() async throws {
        try await withEmulator { setup in
            _ = try await setup.s3.putObject(bucket: setup.bucket, key: "in/records.jsonl",
                                             body: records(["first", "second", "bad [[error:ValidationException]]"]),
                                             contentType: "application/jsonl")
            let arn = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "tok-1"))
            #expect(arn.range(of: "^arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/[a-z0-9]{12}$",
                              options: .regularExpression) != nil, "\(arn)")
            let job = try await waitForEnd(setup.bedrock, arn)
            #expect(job.status == .completed)
            #expect(job.totalRecordCount == 3 && job.successRecordCount == 2 && job.errorRecordCount == 1)
            let out = try await setup.s3.getObject(bucket: setup.bucket, key: "out/\(job.jobId)/records.jsonl.out").body
            let lines = try out.split(separator: UInt8(ascii: "\n")).map { try JSONValue.parse(Data($0)) }
            #expect(lines.map { $0["recordId"]?.stringValue } == ["rec0", "rec1", "rec2"])
            let answer = try ConverseResponse(body: lines[0]["modelOutput"]!, requestId: nil)
            #expect(answer.text == "Echo: first")  // the Converse answer
            #expect(lines[0]["modelInput"]?["messages"] != nil)
            #expect(lines[2]["modelOutput"] == nil)
            #expect(lines[2]["error"]?["errorCode"]?.intValue == 400)
            let manifest = try JSONValue.parse(try await setup.s3.getObject(bucket: setup.bucket,
                                                                            key: "out/\(job.jobId)/manifest.json.out").body)
            #expect(manifest["totalRecordCount"]?.intValue == 3)
            #expect(manifest["successRecordCount"]?.intValue == 2)
            #expect(manifest["errorRecordCount"]?.intValue == 1)
            #expect(manifest["inputTokenCount"]?.intValue ?? 0 > 0)
            #expect(setup.server.stats.calls == 0)  // no on-demand call was counted

            // the same clientRequestToken: the same job, no second one
            let again = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "tok-1", name: "job-2"))
            #expect(again == arn)
            #expect(setup.server.stats.batchJobs == 1)
            let other = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "tok-2"))
            #expect(other != arn)
            #expect(setup.server.stats.batchJobs == 2)
            _ = try await waitForEnd(setup.bedrock, other)
        }
    }

    @Test func tooFewRecordsFailTheJobAsBedrocksValidationDoes() async throws {
        try await withEmulator(minRecords: 5) { setup in
            _ = try await setup.s3.putObject(bucket: setup.bucket, key: "in/records.jsonl", body: records(["one", "two"]),
                                             contentType: "application/jsonl")
            let job = try await waitForEnd(setup.bedrock, try await setup.bedrock.createModelInvocationJob(request(setup.bucket)))
            #expect(job.status == .failed)
            #expect(job.message?.contains("below the minimum of 5 records") == true, "\(job.message ?? "")")
        }
    }

    @Test func badRequestsUnknownJobsAndTheJobLimitAreBedrocksErrors() async throws {
        try await withEmulator(maxJobs: 1) { setup in
            await #expect { _ = try await setup.bedrock.getModelInvocationJob("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/nosuchjob000") } throws: {
                ($0 as? AWSError)?.code == "ResourceNotFoundException"
            }
            var bad = request(setup.bucket)
            bad.timeoutDurationInHours = 2
            await #expect { _ = try await setup.bedrock.createModelInvocationJob(bad) } throws: {
                ($0 as? AWSError)?.code == "ValidationException"
            }
            // the input does not exist: the job is accepted, then fails reading it
            let first = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "a"))
            let ended = try await waitForEnd(setup.bedrock, first)
            #expect(ended.status == .failed)
            // one job in flight at most: a second is refused while the first runs (held by a slow record)
            _ = try await setup.s3.putObject(bucket: setup.bucket, key: "in/records.jsonl",
                                             body: records(["x", "slow [[latency:60000]]", "y"]), contentType: "application/jsonl")
            let running = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "b"))
            await #expect { _ = try await setup.bedrock.createModelInvocationJob(request(setup.bucket, token: "c")) } throws: {
                ($0 as? AWSError)?.code == "ServiceQuotaExceededException"
            }
            let all = try await listed(setup, status: nil)
            #expect(all.contains(running) && all.contains(first))
            // stopped: the job ends Stopped, with the answers it had
            try await setup.bedrock.stopModelInvocationJob(running)
            let stopped = try await waitForEnd(setup.bedrock, running)
            #expect(stopped.status == .stopped)
            #expect((stopped.processedRecordCount ?? 0) <= 1)  // never the slow record or the one after it
            #expect(try await listed(setup, status: "Stopped") == [running])
            // an ended job cannot be stopped
            await #expect { try await setup.bedrock.stopModelInvocationJob(running) } throws: {
                ($0 as? AWSError)?.code == "ValidationException"
            }
        }
    }
}
