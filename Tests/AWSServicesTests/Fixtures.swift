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

    /// Adds S3 behaviours to the proxy for some buckets: a home region (requests signed for another
    /// region get S3's 301) or a denial of reads, writes or all.
    static func proxyRules(bucketRegions: [String: String] = [:], denyBuckets: [String: String] = [:]) async throws {
        let endpoint = Endpoint(url: try TestAWS.proxyURL().absoluteString)!
        let body = try JSONSerialization.data(withJSONObject: ["bucketRegions": bucketRegions, "denyBuckets": denyBuckets])
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: "POST", endpoint: endpoint, path: "/__proxy/rules",
                        headers: ["Content-Type": "application/json"], body: body))
        guard response.status == 200 else { throw TestServerError(message: "proxy rules refused: \(response.status)") }
    }

    /// The proxy's counters: how many requests it checked, accepted and rejected.
    static func proxyStats() async throws -> (checked: Int, accepted: Int, rejected: Int) {
        let url = try TestAWS.proxyURL()
        let endpoint = Endpoint(url: url.absoluteString)!
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: "GET", endpoint: endpoint, path: "/__proxy/stats"))
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
        return (object["checked"] as? Int ?? 0, object["accepted"] as? Int ?? 0, object["rejected"] as? Int ?? 0)
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
