import AWSCore
@testable import AWSServices
import ConverseEmulator
import Foundation
import TestSupport
@testable import ConveyorKit

/// Clients and data for engine tests: S3 and SSM through the signature-checking proxy to moto,
/// Converse through an in-process emulator.
enum KitFixture {
    static var credentials: Credentials {
        Credentials(accessKeyId: TestAWS.accessKey, secretAccessKey: TestAWS.secretKey, source: "test")
    }

    static func awsClient(_ service: ServiceInfo, endpoint: String? = nil, retry: RetryConfiguration = RetryConfiguration())
        throws -> AWSClient
    {
        let url = try endpoint ?? TestAWS.proxyURL().absoluteString
        return AWSClient(service: service, region: "us-east-1", endpoint: Endpoint(url: url)!,
                         credentials: StaticCredentialProvider(credentials), transport: CurlTransport.shared, retry: retry)
    }

    static func s3() throws -> S3Client { S3Client(client: try awsClient(S3Client.serviceInfo)) }
    static func ssm() throws -> SSMClient { SSMClient(client: try awsClient(SSMClient.serviceInfo)) }

    static func services(bedrockURL: String? = nil) throws -> RunServices {
        var services = RunServices(storage: Storage(s3: try s3()), ssm: try ssm())
        if let bedrockURL {
            services.bedrock = BedrockRuntimeClient(client: try awsClient(BedrockRuntimeClient.serviceInfo, endpoint: bedrockURL,
                                                                          retry: .disabled))
            services.modelRegion = "us-east-1"
        }
        return services
    }

    /// A new bucket with `objects` (key → text) in it.
    static func bucket(_ objects: [String: String] = [:]) async throws -> String {
        let s3 = try s3()
        let name = TestAWS.uniqueName("conveyor-kit")
        _ = try await s3.client.send(HTTPRequest(method: "PUT", endpoint: s3.client.endpoint, path: "/\(name)"),
                                     operation: "CreateBucket")
        for (key, text) in objects {
            _ = try await s3.putObject(bucket: name, key: key, body: Data(text.utf8), contentType: "text/plain")
        }
        return name
    }

    /// Every key in `bucket`.
    static func keys(_ bucket: String) async throws -> [String] {
        var keys: [String] = []
        for try await object in try s3().listObjects(bucket: bucket) { keys.append(object.key) }
        return keys
    }

    /// A job file in `dir` summarising every object under `s3://BUCKET/in/` into
    /// `s3://BUCKET/out/OUTPUT.json`, its report under `reports/`; `extra` lines are added at the end.
    static func writeJob(_ dir: String, bucket: String, name: String, output: String = "{{item.name}}",
                         concurrency: Int, extra: String = "") throws -> String {
        let path = dir + "/\(name)-\(bucket).yaml"
        try """
            version: 1
            name: \(name)
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            prompt: "Summarise: {{input}}"
            inputs: {s3: "s3://\(bucket)/in/"}
            output: {s3: "s3://\(bucket)/out/\(output).json"}
            report: s3://\(bucket)/reports/{{run.id}}.json
            limits: {concurrency: \(concurrency)}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Every run report under `reports/` in `bucket`.
    static func reports(_ bucket: String) async throws -> [RunReport] {
        var found: [RunReport] = []
        for key in try await keys(bucket) where key.hasPrefix("reports/") && key.hasSuffix(".json") {
            found.append(try RunReport.load(from: try await s3().getObject(bucket: bucket, key: key).body))
        }
        return found
    }

    static func putParameter(_ name: String, _ value: String, secure: Bool = false) async throws {
        _ = try await ssm().call("PutParameter", ["Name": name, "Value": value, "Type": secure ? "SecureString" : "String",
                                                  "Overwrite": true])
    }

    static func job(_ text: String, path: String = "/tmp/conveyor-tests/job.yaml", vars: [String: String] = [:]) throws -> Job {
        try JobLoader.load(text: text, path: path, overrides: vars)
    }

    /// A temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func startEmulator(_ configure: (inout EmulatorConfiguration) -> Void = { _ in }) throws
        -> (server: ConverseEmulatorServer, url: String)
    {
        var config = EmulatorConfiguration()
        configure(&config)
        let server = ConverseEmulatorServer(configuration: config, threads: 1)
        let port = try server.start()
        return (server, "http://127.0.0.1:\(port)")
    }
}
