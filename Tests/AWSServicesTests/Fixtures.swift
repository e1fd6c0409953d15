import AWSCore
import AWSServices
import Foundation
import TestSupport

/// Clients wired to the loopback stand-ins: every call goes through the signature-checking proxy
/// (botocore recomputes each signature) to moto.
enum Fixture {
    static let region = "us-east-1"

    static var credentials: Credentials {
        Credentials(accessKeyId: TestAWS.accessKey, secretAccessKey: TestAWS.secretKey, source: "test")
    }

    static func client(_ service: ServiceInfo, endpoint: URL? = nil, credentials: Credentials? = nil,
                       region: String = region, timeouts: HTTPTimeouts = .default) throws -> AWSClient {
        let url = try endpoint ?? TestAWS.proxyURL()
        guard let parsed = Endpoint(url: url.absoluteString) else { throw TestServerError(message: "bad URL \(url)") }
        return AWSClient(service: service, region: region, endpoint: parsed,
                         credentials: StaticCredentialProvider(credentials ?? Self.credentials),
                         transport: CurlTransport.shared, timeouts: timeouts)
    }

    static func s3(endpoint: URL? = nil, credentials: Credentials? = nil, region: String = region,
                   multipartThreshold: Int = 16 * 1024 * 1024) throws -> S3Client {
        S3Client(client: try client(S3Client.serviceInfo, endpoint: endpoint, credentials: credentials, region: region),
                 multipartThreshold: multipartThreshold, partSize: 5 * 1024 * 1024)
    }

    static func ssm(endpoint: URL? = nil, credentials: Credentials? = nil) throws -> SSMClient {
        SSMClient(client: try client(SSMClient.serviceInfo, endpoint: endpoint, credentials: credentials))
    }

    /// Creates a new, empty bucket (CreateBucket, signed and checked like everything else).
    static func bucket(_ s3: S3Client, region: String? = nil) async throws -> String {
        let name = TestAWS.uniqueName("conveyor-test")
        var body = Data()
        if let region, region != "us-east-1" {
            body = Data(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/xml")
        let request = HTTPRequest(method: "PUT", endpoint: s3.client.endpoint, path: "/\(name)", headers: headers,
                                  body: body)
        _ = try await s3.client.send(request, operation: "CreateBucket", signingRegion: region ?? s3.client.region)
        return name
    }
}

extension AWSError {
    /// For `#expect(throws:)` closures that want the error back.
    static func capture(_ body: () async throws -> Void) async -> AWSError? {
        do {
            try await body()
            return nil
        } catch let error as AWSError {
            return error
        } catch {
            return nil
        }
    }
}
