import Foundation

/// A byte range of an object, as S3's `Range: bytes=…` header takes it.
public enum S3ByteRange: Sendable, Equatable {
    /// Bytes `first` through `last`, inclusive.
    case bytes(first: Int, last: Int)
    /// From `first` to the end.
    case from(Int)
    /// The last `count` bytes.
    case suffix(Int)

    var headerValue: String {
        switch self {
        case .bytes(let first, let last): return "bytes=\(first)-\(last)"
        case .from(let first): return "bytes=\(first)-"
        case .suffix(let count): return "bytes=-\(count)"
        }
    }
}

/// A condition on a write.
public enum S3WriteCondition: Sendable, Equatable {
    /// Write whatever is there.
    case none
    /// Write only if no object has the key (`If-None-Match: *`); else `AWSError` `.preconditionFailed`.
    case ifAbsent
    /// Write only if the current object's ETag is this one (`If-Match`).
    case ifMatch(etag: String)
}

/// What HeadObject and GetObject say about an object.
public struct S3ObjectMetadata: Sendable, Equatable {
    public var contentLength: Int
    public var contentType: String?
    public var etag: String?
    public var lastModified: Date?
    public var versionId: String?
    /// `x-amz-meta-*` headers, by the name after the prefix (lowercase).
    public var metadata: [String: String]
    /// For a ranged GET: `Content-Range`.
    public var contentRange: String?

    init(headers: HTTPHeaders) {
        contentLength = headers["Content-Length"].flatMap { Int($0) } ?? 0
        contentType = headers["Content-Type"]
        etag = headers["ETag"]
        lastModified = headers["Last-Modified"].flatMap(HTTPDate.parse)
        versionId = headers["x-amz-version-id"]
        contentRange = headers["Content-Range"]
        var meta: [String: String] = [:]
        for field in headers where field.name.lowercased().hasPrefix("x-amz-meta-") {
            meta[String(field.name.lowercased().dropFirst("x-amz-meta-".count))] = field.value
        }
        metadata = meta
    }
}

/// An object's bytes and metadata.
public struct S3Object: Sendable {
    public var body: Data
    public var metadata: S3ObjectMetadata
}

/// The answer to a write.
public struct S3PutResult: Sendable, Equatable {
    public var etag: String?
    public var versionId: String?
}

/// One entry of a listing.
public struct S3ObjectSummary: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var etag: String?
    public var lastModified: Date?
    public var storageClass: String?
}

/// One page of ListObjectsV2.
public struct S3ListPage: Sendable, Equatable {
    public var objects: [S3ObjectSummary]
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    public var nextContinuationToken: String?
    public var keyCount: Int
}

/// A part of a multipart upload, as CompleteMultipartUpload takes it.
public struct S3CompletedPart: Sendable, Equatable {
    public var partNumber: Int
    public var etag: String
    public init(partNumber: Int, etag: String) {
        self.partNumber = partNumber
        self.etag = etag
    }
}

/// Dates as HTTP headers carry them (RFC 9110) and as S3's XML does (ISO 8601).
enum HTTPDate {
    static func parse(_ text: String) -> Date? { Timestamp.parseHTTPDate(text) }
    static func parseISO8601(_ text: String) -> Date? { Timestamp.parseISO8601(text) }
}
