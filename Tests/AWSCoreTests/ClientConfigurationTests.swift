import Foundation
import Testing
@testable import AWSCore

@Suite struct ClientConfigurationTests {
    let s3 = ServiceInfo(serviceId: "S3", signingName: "s3", endpointPrefix: "s3", wireProtocol: .restXML,
                         signerOptions: .s3)
    let bedrock = ServiceInfo(serviceId: "Bedrock Runtime", signingName: "bedrock", endpointPrefix: "bedrock-runtime",
                              wireProtocol: .restJSON, signerOptions: .default)

    func configuration(_ variables: [String: String]) throws -> AWSConfiguration {
        var env = variables
        env["AWS_CONFIG_FILE"] = env["AWS_CONFIG_FILE"] ?? "/nonexistent/config"
        env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] ?? "/nonexistent/credentials"
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        return try AWSConfiguration.resolve(environment: AWSEnvironment(variables: env, homeDirectory: "/nonexistent"))
    }

    @Test func regionEndpointAndRetryComeFromTheEnvironment() throws {
        let config = try configuration([
            "AWS_REGION": "eu-west-2", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_RETRY_MODE": "adaptive",
            "AWS_MAX_ATTEMPTS": "6", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
        ])
        let client = try AWSClient(service: s3, configuration: config, transport: NoTransport())
        #expect(client.region == "eu-west-2")
        #expect(client.endpoint == Endpoint(scheme: "http", host: "127.0.0.1", port: 9000, isCustom: true))
        #expect(client.retry.configuration == RetryConfiguration(mode: .adaptive, maxAttempts: 6))
        #expect(client.retry.limiter != nil)
        let runtime = try AWSClient(service: bedrock, configuration: config, transport: NoTransport(), region: "us-west-2")
        #expect(runtime.endpoint.description == "https://bedrock-runtime.us-west-2.amazonaws.com")
        #expect(!runtime.endpoint.isCustom)
    }

    @Test func missingRegionListsWhatWasTried() throws {
        let config = try configuration([:])
        do {
            _ = try AWSClient(service: s3, configuration: config, transport: NoTransport())
            Issue.record("a client without a region was made")
        } catch {
            #expect("\(error)".contains("AWS_REGION"))
        }
    }

    @Test func profileRetrySettingsAreRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("config").path
        try "[profile batch]\nregion = ap-south-1\nretry_mode = adaptive\nmax_attempts = 9\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let config = try configuration(["AWS_CONFIG_FILE": path, "AWS_PROFILE": "batch"])
        let client = try AWSClient(service: bedrock, configuration: config, transport: NoTransport())
        #expect(client.region == "ap-south-1")
        #expect(client.retry.configuration == RetryConfiguration(mode: .adaptive, maxAttempts: 9))
    }
}

struct NoTransport: HTTPTransport {
    func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts, queue: DispatchQueue,
                 completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void) {
        queue.async { completion(.failure(TransportError(kind: .other, message: "unused", requestSent: false))) }
    }
}
