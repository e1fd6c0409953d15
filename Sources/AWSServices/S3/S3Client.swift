import Foundation
import Synchronization

/// The S3 operations Conveyor uses. The engine depends on this protocol only.
public protocol S3API: Sendable {
    func getObject(bucket: String, key: String, range: S3ByteRange?) async throws -> S3Object
    func headObject(bucket: String, key: String) async throws -> S3ObjectMetadata
    func putObject(bucket: String, key: String, body: Data, contentType: String, condition: S3WriteCondition,
                   metadata: [String: String]) async throws -> S3PutResult
    func deleteObject(bucket: String, key: String) async throws
    func listObjectsPage(bucket: String, prefix: String?, delimiter: String?, startAfter: String?,
                         continuationToken: String?, maxKeys: Int?) async throws -> S3ListPage
}

extension S3API {
    public func getObject(bucket: String, key: String) async throws -> S3Object {
        try await getObject(bucket: bucket, key: key, range: nil)
    }

    public func putObject(bucket: String, key: String, body: Data, contentType: String,
                          condition: S3WriteCondition = .none) async throws -> S3PutResult {
        try await putObject(bucket: bucket, key: key, body: body, contentType: contentType, condition: condition,
                            metadata: [:])
    }

    /// Every object under `prefix`, fetched a page at a time as the sequence is consumed.
    public func listObjects(bucket: String, prefix: String? = nil, startAfter: String? = nil,
                            pageSize: Int? = nil) -> S3ObjectListing {
        S3ObjectListing(s3: self, bucket: bucket, prefix: prefix, startAfter: startAfter, pageSize: pageSize)
    }
}

/// A lazily paged listing: one ListObjectsV2 call per page, only when the previous page is used up,
/// so memory holds one page whatever the number of keys.
public struct S3ObjectListing: AsyncSequence, Sendable {
    public typealias Element = S3ObjectSummary
    let s3: any S3API
    let bucket: String
    let prefix: String?
    let startAfter: String?
    let pageSize: Int?

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: S3ObjectListing
        var buffer: [S3ObjectSummary] = []
        var position = 0
        var token: String?
        var finished = false
        var pages = 0

        public mutating func next() async throws -> S3ObjectSummary? {
            while position >= buffer.count {
                if finished { return nil }
                let page = try await listing.s3.listObjectsPage(
                    bucket: listing.bucket, prefix: listing.prefix, delimiter: nil,
                    startAfter: pages == 0 ? listing.startAfter : nil, continuationToken: token,
                    maxKeys: listing.pageSize)
                pages += 1
                buffer = page.objects
                position = 0
                token = page.nextContinuationToken
                finished = !page.isTruncated || token == nil
            }
            defer { position += 1 }
            return buffer[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listing: self) }
}

/// S3 over REST-XML with SigV4, path-style on custom endpoints and virtual-hosted style on AWS.
///
/// A bucket in another region is followed once: the 301 (or 400 with a `Region`) is read, the
/// request re-signed for the bucket's region and sent again; the region is remembered per bucket.
public final class S3Client: S3API {
    public static let serviceInfo = ServiceInfo(
        serviceId: "S3", signingName: "s3", endpointPrefix: "s3", wireProtocol: .restXML, signerOptions: .s3)

    public let client: AWSClient
    private let bucketRegions = Mutex<[String: String]>([:])
    /// Bodies larger than this go up in parts (`upload`).
    public let multipartThreshold: Int
    public let partSize: Int

    public init(client: AWSClient, multipartThreshold: Int = 16 * 1024 * 1024, partSize: Int = 8 * 1024 * 1024) {
        precondition(partSize >= 5 * 1024 * 1024, "S3 parts are at least 5 MiB")
        self.client = client
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
    }

    // MARK: Objects

    public func getObject(bucket: String, key: String, range: S3ByteRange? = nil) async throws -> S3Object {
        var headers = HTTPHeaders()
        if let range { headers.add("Range", range.headerValue) }
        let response = try await perform("GetObject", bucket: bucket) { region in
            self.request("GET", bucket: bucket, key: key, region: region, headers: headers)
        }
        return S3Object(body: response.body, metadata: S3ObjectMetadata(headers: response.headers))
    }

    public func headObject(bucket: String, key: String) async throws -> S3ObjectMetadata {
        let response = try await perform("HeadObject", bucket: bucket) { region in
            self.request("HEAD", bucket: bucket, key: key, region: region)
        }
        return S3ObjectMetadata(headers: response.headers)
    }

    public func putObject(bucket: String, key: String, body: Data, contentType: String,
                          condition: S3WriteCondition = .none, metadata: [String: String] = [:]) async throws
        -> S3PutResult
    {
        var headers = HTTPHeaders()
        headers.add("Content-Type", contentType)
        Self.apply(condition, to: &headers)
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) { headers.add("x-amz-meta-\(name)", value) }
        let response = try await perform("PutObject", bucket: bucket) { region in
            self.request("PUT", bucket: bucket, key: key, region: region, headers: headers, body: body)
        }
        return S3PutResult(etag: response.headers["ETag"], versionId: response.headers["x-amz-version-id"])
    }

    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await perform("DeleteObject", bucket: bucket) { region in
            self.request("DELETE", bucket: bucket, key: key, region: region)
        }
    }

    // MARK: Listing

    public func listObjectsPage(bucket: String, prefix: String? = nil, delimiter: String? = nil,
                                startAfter: String? = nil, continuationToken: String? = nil,
                                maxKeys: Int? = nil) async throws -> S3ListPage {
        var query: [(name: String, value: String?)] = [("list-type", "2"), ("encoding-type", "url")]
        if let prefix { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let startAfter { query.append(("start-after", startAfter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        if let maxKeys { query.append(("max-keys", String(maxKeys))) }
        let response = try await perform("ListObjectsV2", bucket: bucket) { region in
            self.request("GET", bucket: bucket, key: nil, region: region, query: query)
        }
        return try parseListing(response, operation: "ListObjectsV2")
    }

    func parseListing(_ response: HTTPResponse, operation: String) throws -> S3ListPage {
        let root = try xml(response, operation: operation)
        let urlEncoded = root.text(of: "EncodingType") == "url"
        func decode(_ s: String) -> String { urlEncoded ? AWSPercentEncoding.decode(s, plusAsSpace: true) : s }
        let objects = root.children("Contents").map { entry in
            S3ObjectSummary(
                key: decode(entry.text(of: "Key") ?? ""), size: Int(entry.text(of: "Size") ?? "") ?? 0,
                etag: entry.text(of: "ETag"), lastModified: entry.text(of: "LastModified").flatMap(HTTPDate.parseISO8601),
                storageClass: entry.text(of: "StorageClass"))
        }
        let prefixes = root.children("CommonPrefixes").compactMap { $0.text(of: "Prefix") }.map(decode)
        let truncated = root.text(of: "IsTruncated")?.lowercased() == "true"
        return S3ListPage(
            objects: objects, commonPrefixes: prefixes, isTruncated: truncated,
            nextContinuationToken: root.text(of: "NextContinuationToken"),
            keyCount: Int(root.text(of: "KeyCount") ?? "") ?? objects.count)
    }

    // MARK: Multipart

    public func createMultipartUpload(bucket: String, key: String, contentType: String,
                                      metadata: [String: String] = [:]) async throws -> String {
        var headers = HTTPHeaders()
        headers.add("Content-Type", contentType)
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) { headers.add("x-amz-meta-\(name)", value) }
        let response = try await perform("CreateMultipartUpload", bucket: bucket) { region in
            self.request("POST", bucket: bucket, key: key, region: region, query: [("uploads", nil)], headers: headers)
        }
        let root = try xml(response, operation: "CreateMultipartUpload")
        guard let uploadId = root.text(of: "UploadId"), !uploadId.isEmpty else {
            throw malformed("CreateMultipartUpload", "the answer has no UploadId")
        }
        return uploadId
    }

    public func uploadPart(bucket: String, key: String, uploadId: String, partNumber: Int, body: Data) async throws
        -> S3CompletedPart
    {
        precondition((1...10_000).contains(partNumber), "part numbers run from 1 to 10,000")
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/octet-stream")
        let response = try await perform("UploadPart", bucket: bucket) { region in
            self.request("PUT", bucket: bucket, key: key, region: region,
                         query: [("partNumber", String(partNumber)), ("uploadId", uploadId)], headers: headers,
                         body: body)
        }
        guard let etag = response.headers["ETag"] else { throw malformed("UploadPart", "the answer has no ETag") }
        return S3CompletedPart(partNumber: partNumber, etag: etag)
    }

    public func completeMultipartUpload(bucket: String, key: String, uploadId: String, parts: [S3CompletedPart],
                                        condition: S3WriteCondition = .none) async throws -> S3PutResult {
        var xmlBody = #"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xmlBody += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(XMLElement.escape(part.etag))</ETag></Part>"
        }
        xmlBody += "</CompleteMultipartUpload>"
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/xml")
        Self.apply(condition, to: &headers)
        let body = Data(xmlBody.utf8)
        // S3 may answer 200 with an <Error> body once the upload is under way; botocore treats it
        // as a 500, which is retried.
        let client = self.client
        let errorIn200: (HTTPResponse) -> AWSError? = { response in
            guard let root = try? XMLElement.parse(response.body), root.localName == "Error" else { return nil }
            return client.error(from: HTTPResponse(status: 500, headers: response.headers, body: response.body),
                                operation: "CompleteMultipartUpload")
        }
        let response = try await perform("CompleteMultipartUpload", bucket: bucket, check: errorIn200) { region in
            self.request("POST", bucket: bucket, key: key, region: region, query: [("uploadId", uploadId)],
                         headers: headers, body: body)
        }
        let root = try xml(response, operation: "CompleteMultipartUpload")
        return S3PutResult(etag: root.text(of: "ETag") ?? response.headers["ETag"],
                           versionId: response.headers["x-amz-version-id"])
    }

    public func abortMultipartUpload(bucket: String, key: String, uploadId: String) async throws {
        _ = try await perform("AbortMultipartUpload", bucket: bucket) { region in
            self.request("DELETE", bucket: bucket, key: key, region: region, query: [("uploadId", uploadId)])
        }
    }

    /// Writes `body`: one PutObject up to `multipartThreshold`, else a multipart upload of
    /// `partSize` parts (at most `parallelParts` at once), aborted if any step fails so that no
    /// orphaned parts are left behind.
    public func upload(bucket: String, key: String, body: Data, contentType: String,
                       condition: S3WriteCondition = .none, metadata: [String: String] = [:],
                       parallelParts: Int = 4) async throws -> S3PutResult {
        if body.count <= multipartThreshold {
            return try await putObject(bucket: bucket, key: key, body: body, contentType: contentType,
                                       condition: condition, metadata: metadata)
        }
        let uploadId = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType,
                                                       metadata: metadata)
        do {
            let partSize = self.partSize
            let count = (body.count + partSize - 1) / partSize
            var parts: [S3CompletedPart] = []
            try await withThrowingTaskGroup(of: S3CompletedPart.self) { group in
                var next = 0
                func addPart() {
                    let number = next + 1
                    let start = body.startIndex + next * partSize
                    let slice = body[start..<min(start + partSize, body.endIndex)]
                    next += 1
                    group.addTask {
                        try await self.uploadPart(bucket: bucket, key: key, uploadId: uploadId, partNumber: number,
                                                  body: Data(slice))
                    }
                }
                while next < min(count, max(1, parallelParts)) { addPart() }
                for try await part in group {
                    parts.append(part)
                    if next < count { addPart() }
                }
            }
            return try await completeMultipartUpload(bucket: bucket, key: key, uploadId: uploadId, parts: parts,
                                                     condition: condition)
        } catch {
            try? await abortMultipartUpload(bucket: bucket, key: key, uploadId: uploadId)
            throw error
        }
    }

    // MARK: Addressing and redirects

    /// The bucket's region, as learned from a redirect, or the client's.
    public func region(of bucket: String) -> String {
        bucketRegions.withLock { $0[bucket] } ?? client.region
    }

    /// Runs one request, following a wrong-region answer once.
    func perform(_ operation: String, bucket: String, check: ((HTTPResponse) -> AWSError?)? = nil,
                 build: (String) -> HTTPRequest) async throws -> HTTPResponse {
        let region = region(of: bucket)
        do {
            return try await client.send(build(region), operation: operation, signingRegion: region, check: check)
        } catch let error as AWSError where Self.isRegionRedirect(error, operation: operation) {
            var newRegion = error.details["Region"]
            if newRegion == nil { newRegion = try? await probeRegion(bucket: bucket) }
            guard let newRegion, !newRegion.isEmpty, newRegion != region else { throw error }
            bucketRegions.withLock { $0[bucket] = newRegion }
            return try await client.send(build(newRegion), operation: operation, signingRegion: newRegion,
                                         check: check)
        }
    }

    static func isRegionRedirect(_ error: AWSError, operation: String) -> Bool {
        guard let status = error.status else { return false }
        if [301, 302, 307].contains(status) || error.code == "PermanentRedirect" { return true }
        if error.code == "AuthorizationHeaderMalformed" && error.details["Region"] != nil { return true }
        if error.code == "IllegalLocationConstraintException" { return true }
        if operation == "HeadObject" && status == 400 && error.details["Region"] != nil { return true }
        return false
    }

    /// Asks S3 where a bucket lives: `HEAD` on the bucket answers with `x-amz-bucket-region`.
    func probeRegion(bucket: String) async throws -> String? {
        let region = "us-east-1"
        let response = try await client.sendRaw(request("HEAD", bucket: bucket, key: nil, region: region),
                                                operation: "HeadBucket", signingRegion: region)
        return response.headers["x-amz-bucket-region"]
    }

    /// The endpoint for a region: the configured one for custom endpoints, else S3's host there.
    func endpoint(for region: String) -> Endpoint {
        if client.endpoint.isCustom || region == client.region { return client.endpoint }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return Endpoint(scheme: client.endpoint.scheme, host: "s3.\(region).\(suffix)", isCustom: false)
    }

    /// A bucket name usable as a DNS label for virtual-hosted addressing.
    static func isVirtualHostable(_ bucket: String, scheme: String) -> Bool {
        guard (3...63).contains(bucket.count), !bucket.contains(".") || scheme == "http" else { return false }
        guard let first = bucket.first, let last = bucket.last, first.isLetter || first.isNumber,
              last.isLetter || last.isNumber else { return false }
        return bucket.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "." }
            && !bucket.contains("..")
    }

    func request(_ method: String, bucket: String, key: String?, region: String,
                 query: [(name: String, value: String?)] = [], headers: HTTPHeaders = HTTPHeaders(),
                 body: Data = Data()) -> HTTPRequest {
        let endpoint = endpoint(for: region)
        let encodedKey = key.map { "/" + AWSPercentEncoding.encode($0, allowSlash: true) } ?? ""
        if endpoint.isCustom || !Self.isVirtualHostable(bucket, scheme: endpoint.scheme) {
            let bucketPath = "/" + AWSPercentEncoding.encode(bucket, allowSlash: false)
            return HTTPRequest(method: method, endpoint: endpoint, path: bucketPath + encodedKey, query: query,
                               headers: headers, body: body)
        }
        var virtual = endpoint
        virtual.host = "\(bucket).\(endpoint.host)"
        return HTTPRequest(method: method, endpoint: virtual, path: encodedKey.isEmpty ? "/" : encodedKey,
                           query: query, headers: headers, body: body)
    }

    static func apply(_ condition: S3WriteCondition, to headers: inout HTTPHeaders) {
        switch condition {
        case .none: break
        case .ifAbsent: headers.add("If-None-Match", "*")
        case .ifMatch(let etag): headers.add("If-Match", etag)
        }
    }

    func xml(_ response: HTTPResponse, operation: String) throws -> XMLElement {
        do {
            return try XMLElement.parse(response.body)
        } catch {
            throw malformed(operation, "the answer is not valid XML (\(error))")
        }
    }

    func malformed(_ operation: String, _ message: String) -> AWSError {
        AWSError(kind: .service, service: "S3", operation: operation, status: nil, code: "MalformedResponse",
                 message: message)
    }
}
