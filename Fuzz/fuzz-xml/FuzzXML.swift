// libFuzzer harness: S3's XML answers. The input is a response body read by the XML reader, then
// as a ListObjectsV2 page, as an S3 error (a 400 and a 500 answer, and a 200 carrying <Error>
// as CompleteMultipartUpload may) and as the region-redirect decision built on that error.
// Built only by `make fuzz`; see docs/fuzzing.md.
import AWSCore
import Dispatch
import Foundation
import FuzzSupport

@testable import AWSServices

/// The S3 client is only used to read answers here: a request would be a harness bug.
private struct NoTransport: HTTPTransport {
    func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts, queue: DispatchQueue,
                 completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void) {
        fatalError("fuzz-xml sends no requests")
    }
}

private let s3 = S3Client(client: AWSClient(
    service: S3Client.serviceInfo, region: "eu-west-2",
    endpoint: Endpoint(scheme: "http", host: "127.0.0.1", port: 9, isCustom: true),
    credentials: StaticCredentialProvider(Credentials(accessKeyId: "AKIDFUZZ", secretAccessKey: "fuzz")),
    transport: NoTransport()))

@main
enum FuzzXML: FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>) {
        let body = Data(input)
        if let root = try? XMLElement.parse(body) {
            _ = root.localName
            _ = root.text(of: "Code")
        }
        if let page = try? s3.parseListing(HTTPResponse(status: 200, body: body), operation: "ListObjectsV2") {
            _ = page.objects.map(\.key)
        }
        var headers = HTTPHeaders()
        headers.add("x-amz-request-id", "FUZZ0001")
        for status in [400, 503] {
            let error = s3.client.error(from: HTTPResponse(status: status, headers: headers, body: body),
                                        operation: "HeadObject")
            _ = S3Client.isRegionRedirect(error, operation: "HeadObject")
            _ = error.description
        }
    }
}
