import Foundation

/// AWS Signature Version 4 for the `Authorization` header, as botocore computes it.
///
/// A signer is a plain value: credentials, region, service name and options, with no clock of its
/// own (the time is passed to ``sign(_:date:)``), so signing is deterministic and testable. Sign
/// again, with a fresh date, before every attempt; signing replaces the previous signature.
///
/// ```swift
/// let signer = SigV4Signer(credentials: creds, region: "eu-west-1", service: "bedrock")
/// signer.sign(&request, date: Date())
/// ```
///
/// Its description, debug description and mirror never show the secret key, the session token
/// or a signature.
public struct SigV4Signer: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The algorithm name in the string to sign and the `Authorization` header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// The payload hash that leaves the body out of the signature (S3 over HTTPS).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Header names (lowercase) that are never signed because proxies and HTTP stacks may change,
    /// add or drop them: botocore's `SIGNED_HEADERS_BLACKLIST`.
    public static let unsignedHeaderNames: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// How the canonical URI and the payload hash are formed. S3 differs from every other service.
    public struct Options: Sendable, Equatable, CustomStringConvertible {
        /// Percent-encode the (already encoded) wire path once more for the canonical URI, so that
        /// `%3A` becomes `%253A`. True for every service but S3.
        public var doubleURIEncode: Bool
        /// Remove `.` and `..` segments and collapse empty ones (`//`) in the canonical URI, keeping
        /// a trailing `/`. True for every service but S3.
        public var normalizePath: Bool
        /// Send the payload hash as an `X-Amz-Content-SHA256` header and sign it. S3 requires it.
        public var addContentSHA256Header: Bool
        /// Use `UNSIGNED-PAYLOAD` instead of the body's SHA-256 (S3 over HTTPS only).
        public var unsignedPayload: Bool

        public init(doubleURIEncode: Bool, normalizePath: Bool, addContentSHA256Header: Bool,
                    unsignedPayload: Bool = false) {
            self.doubleURIEncode = doubleURIEncode
            self.normalizePath = normalizePath
            self.addContentSHA256Header = addContentSHA256Header
            self.unsignedPayload = unsignedPayload
        }

        /// Every service but S3 (Bedrock, SSM, STS, ...): the wire path is normalised and encoded
        /// again, and the payload hash goes into the canonical request only.
        public static let `default` = Options(doubleURIEncode: true, normalizePath: true,
                                              addContentSHA256Header: false)

        /// S3: the wire path is signed as it is, and `X-Amz-Content-SHA256` is sent and signed.
        public static let s3 = Options(doubleURIEncode: false, normalizePath: false, addContentSHA256Header: true)

        public var description: String {
            "Options(doubleURIEncode: \(doubleURIEncode), normalizePath: \(normalizePath), "
                + "addContentSHA256Header: \(addContentSHA256Header), unsignedPayload: \(unsignedPayload))"
        }
    }

    /// Every intermediate value of one signature, for tests and for debugging a
    /// `SignatureDoesNotMatch` (S3 returns its own canonical request and string to sign).
    ///
    /// `canonicalRequest` contains the session token and `signature`/`authorization` the signature,
    /// so the description shows neither; use ``redactedCanonicalRequest`` in logs.
    public struct SigningResult: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        /// `yyyyMMdd'T'HHmmss'Z'`, the `X-Amz-Date` value.
        public var amzDate: String
        /// `yyyyMMdd/region/service/aws4_request`.
        public var credentialScope: String
        /// The canonical request, lines joined with `\n`.
        public var canonicalRequest: String
        /// The signed header names, sorted, lowercase, joined with `;`.
        public var signedHeaders: String
        /// The last line of the canonical request: hex SHA-256 of the body or `UNSIGNED-PAYLOAD`.
        public var payloadHash: String
        /// The string to sign, lines joined with `\n`.
        public var stringToSign: String
        /// The signature, lowercase hex.
        public var signature: String
        /// The `Authorization` header value.
        public var authorization: String

        /// The canonical request with the value of `x-amz-security-token` replaced.
        public var redactedCanonicalRequest: String {
            canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                for name in ["x-amz-security-token:", "authorization:"] where line.hasPrefix(name) {
                    return name + "<redacted>"
                }
                return String(line)
            }.joined(separator: "\n")
        }

        public var description: String {
            "SigningResult(scope: \(credentialScope), signedHeaders: \(signedHeaders), payloadHash: \(payloadHash), "
                + "signature: <redacted>)"
        }

        public var debugDescription: String {
            description + "\nCanonical request:\n\(redactedCanonicalRequest)\nString to sign:\n\(stringToSign)"
        }

        public var customMirror: Mirror {
            Mirror(self, children: [
                "credentialScope": credentialScope, "signedHeaders": signedHeaders, "payloadHash": payloadHash,
                "canonicalRequest": redactedCanonicalRequest, "stringToSign": stringToSign,
                "signature": "<redacted>",
            ])
        }
    }

    public let credentials: Credentials
    public let region: String
    /// The signing name (`bedrock` for Bedrock Runtime, `s3`, `ssm`), not the endpoint prefix.
    public let service: String
    public let options: Options

    public init(credentials: Credentials, region: String, service: String, options: Options = .default) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.options = options
    }

    // MARK: Signing

    /// Signs `request` in place for the time `date`.
    ///
    /// Removes any earlier `Authorization`, `X-Amz-Date`, `X-Amz-Security-Token` and
    /// `X-Amz-Content-SHA256`; sets `X-Amz-Date`, `X-Amz-Security-Token` when the credentials carry
    /// a session token, and `X-Amz-Content-SHA256` when ``Options/addContentSHA256Header`` is set;
    /// signs every header but ``unsignedHeaderNames`` plus `host` (the request's ``HTTPRequest/hostHeader``,
    /// which the transport sends; no `Host` field is added); then adds `Authorization`.
    @discardableResult
    public func sign(_ request: inout HTTPRequest, date: Date) -> SigningResult {
        prepare(&request, date: date)
        let result = signingResult(forPreparedRequest: request, date: date)
        request.headers.add("Authorization", result.authorization)
        return result
    }

    /// The first half of ``sign(_:date:)``: drops earlier signing headers and adds `X-Amz-Date`,
    /// `X-Amz-Security-Token` and (per the options) `X-Amz-Content-SHA256`, without signing.
    public func prepare(_ request: inout HTTPRequest, date: Date) {
        for name in ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"] {
            request.headers.remove(name)
        }
        request.headers.add("X-Amz-Date", Self.amzDate(date))
        if let token = credentials.sessionToken, !token.isEmpty {
            request.headers.add("X-Amz-Security-Token", token)
        }
        if options.addContentSHA256Header {
            request.headers.add("X-Amz-Content-SHA256", payloadHash(of: request))
        }
    }

    /// What ``sign(_:date:)`` would compute for `request`, leaving `request` unchanged.
    public func signingResult(for request: HTTPRequest, date: Date) -> SigningResult {
        var prepared = request
        prepare(&prepared, date: date)
        return signingResult(forPreparedRequest: prepared, date: date)
    }

    /// Signs `request` with its headers exactly as they stand (no `X-Amz-Date` or token is added),
    /// plus `host` when absent. ``sign(_:date:)`` is ``prepare(_:date:)`` followed by this. It also
    /// reproduces vectors, such as botocore's 2011 suite, that carry only a `Date` header.
    public func signingResult(forPreparedRequest request: HTTPRequest, date: Date) -> SigningResult {
        let amzDate = Self.amzDate(date)
        let dateStamp = String(amzDate.prefix(8))
        let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(of: request)
        let payload = request.headers["X-Amz-Content-SHA256"] ?? payloadHash(of: request)
        let canonicalRequest = [
            request.method.uppercased(),
            canonicalURI(path: request.path),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payload,
        ].joined(separator: "\n")

        let stringToSign = Self.stringToSign(canonicalRequest: canonicalRequest, amzDate: amzDate, scope: scope)
        let key = SigningKeyCache.shared.signingKey(
            for: .init(secretAccessKey: credentials.secretAccessKey, dateStamp: dateStamp, region: region,
                       service: service))
        let signature = AWSCrypto.hex(AWSCrypto.hmacSHA256(key: key, message: stringToSign))
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return SigningResult(
            amzDate: amzDate, credentialScope: scope, canonicalRequest: canonicalRequest, signedHeaders: signedHeaders,
            payloadHash: payload, stringToSign: stringToSign, signature: signature, authorization: authorization)
    }

    /// The canonical request ``sign(_:date:)`` would sign for `request`.
    public func canonicalRequest(for request: HTTPRequest, date: Date) -> String {
        signingResult(for: request, date: date).canonicalRequest
    }

    /// The string to sign for `canonicalRequest` at `date` in this signer's scope.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        let amzDate = Self.amzDate(date)
        return Self.stringToSign(canonicalRequest: canonicalRequest, amzDate: amzDate,
                                 scope: credentialScope(date: date))
    }

    /// The signature (lowercase hex) of `stringToSign` with this signer's key for `date`.
    public func signature(stringToSign: String, date: Date) -> String {
        AWSCrypto.hex(AWSCrypto.hmacSHA256(key: signingKey(date: date), message: stringToSign))
    }

    /// `yyyyMMdd/region/service/aws4_request` for `date`.
    public func credentialScope(date: Date) -> String {
        "\(Self.amzDate(date).prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// The derived signing key for `date` (a secret: never log it).
    public func signingKey(date: Date) -> [UInt8] {
        SigningKeyCache.shared.signingKey(
            for: .init(secretAccessKey: credentials.secretAccessKey, dateStamp: String(Self.amzDate(date).prefix(8)),
                       region: region, service: service))
    }

    // MARK: The pieces, as botocore computes them

    /// The payload hash of `request` under these options: `UNSIGNED-PAYLOAD` or the body's hex SHA-256.
    public func payloadHash(of request: HTTPRequest) -> String {
        options.unsignedPayload ? Self.unsignedPayload : AWSCrypto.sha256Hex(request.body)
    }

    /// The canonical URI for the wire path `path` (already percent-encoded) under these options.
    public func canonicalURI(path: String) -> String {
        var uri = path.isEmpty ? "/" : path
        if options.normalizePath { uri = Self.normalizedPath(uri) }
        if options.doubleURIEncode { uri = AWSPercentEncoding.encode(uri, allowSlash: true) }
        return uri.isEmpty ? "/" : uri
    }

    /// botocore's `remove_dot_segments`: drops empty and `.` segments, resolves `..`, keeps the
    /// leading `/` and keeps a trailing `/` when anything is left. `"//example//"` → `"/example/"`.
    public static func normalizedPath(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
            } else {
                output.append(segment)
            }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    /// The canonical query string: every name and value encoded with the unreserved set, sorted by
    /// encoded name and then encoded value, joined as `name=value` with `&` (a nil value → `name=`).
    public static func canonicalQuery(_ query: [(name: String, value: String?)]) -> String {
        let encoded = query.map { pair in
            (AWSPercentEncoding.encode(pair.name, allowSlash: false),
             AWSPercentEncoding.encode(pair.value ?? "", allowSlash: false))
        }
        return encoded.sorted { a, b in
            if a.0 != b.0 { return a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
            return a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
        }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The canonical headers block (each `name:value\n`) and the signed header list of `request`:
    /// all headers but ``unsignedHeaderNames``, names lowercased, values trimmed with inner runs of
    /// whitespace folded to one space, repeated headers joined with `,`, plus `host` when absent.
    public static func canonicalHeaders(of request: HTTPRequest) -> (canonical: String, signed: String) {
        var values: [String: [String]] = [:]
        var names: [String] = []
        for field in request.headers {
            let name = field.name.lowercased()
            if unsignedHeaderNames.contains(name) { continue }
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(normalizedHeaderValue(field.value))
        }
        if values["host"] == nil {
            names.append("host")
            values["host"] = [request.hostHeader]
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var canonical = ""
        for name in names {
            canonical += name + ":" + values[name, default: []].joined(separator: ",") + "\n"
        }
        return (canonical, names.joined(separator: ";"))
    }

    /// A header value as signed: trimmed, and every inner run of whitespace (quoted or not)
    /// replaced by one space, like botocore's `' '.join(value.split())`.
    public static func normalizedHeaderValue(_ value: String) -> String {
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
        }
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            if isSpace(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex SHA-256 of the canonical request>`.
    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: String) -> String {
        "\(algorithm)\n\(amzDate)\n\(scope)\n\(AWSCrypto.sha256Hex(canonicalRequest))"
    }

    /// The SigV4 key chain: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func deriveSigningKey(secretAccessKey: String, dateStamp: String, region: String,
                                        service: String) -> [UInt8] {
        var key = AWSCrypto.hmacSHA256(key: Array(("AWS4" + secretAccessKey).utf8), message: dateStamp)
        key = AWSCrypto.hmacSHA256(key: key, message: region)
        key = AWSCrypto.hmacSHA256(key: key, message: service)
        return AWSCrypto.hmacSHA256(key: key, message: "aws4_request")
    }

    /// `date` in UTC as `yyyyMMdd'T'HHmmss'Z'` (fractions of a second dropped).
    public static func amzDate(_ date: Date) -> String { Timestamp.compact(date) }

    // MARK: Descriptions without secrets

    public var description: String {
        "SigV4Signer(service: \(service), region: \(region), credentials: \(credentials), options: \(options))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: [
            "credentials": credentials.description, "region": region, "service": service, "options": options,
        ])
    }
}
