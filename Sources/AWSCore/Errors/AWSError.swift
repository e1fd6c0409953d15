import Foundation

/// Every failure of an AWS call, as one type: which service and operation, the HTTP status, the
/// service's error code and message, the request id, and the class the runner acts on.
///
/// The message is the service's own text. Nothing that could carry a secret is kept: of the extra
/// fields of an S3 `<Error>` only a known-safe list is copied (never `CanonicalRequest` or
/// `StringToSign`, which echo the session token), and request headers are never included.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The classes of failure, as the runner treats them.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The service is rate-limiting the caller: slow down and try again.
        case throttled
        /// The request is wrong (validation): repeating it will not help.
        case invalidRequest
        /// The credentials are not allowed to do this, or are invalid or expired.
        case accessDenied
        /// The object, bucket, model or parameter does not exist.
        case notFound
        /// A conditional request's condition failed (S3 412 PreconditionFailed).
        case preconditionFailed
        /// Any other answer from the service (5xx, conflicts, model errors).
        case service
        /// No complete answer: connect, DNS, TLS, timeout or reset.
        case transport
    }

    public var kind: Kind
    /// The service's id, as in `S3`, `SSM`, `Bedrock Runtime`.
    public var service: String
    /// The operation's name, as in `GetObject`.
    public var operation: String
    /// The HTTP status, or nil for transport errors.
    public var status: Int?
    /// The service's error code (`NoSuchKey`, `ThrottlingException`), or the status as a string
    /// when the answer had no body (HEAD), or the transport error's kind.
    public var code: String
    public var message: String
    public var requestId: String?
    /// Extra, non-secret details from the error body (S3: `Region`, `Condition`, `Key`, `BucketName`...).
    public var details: [String: String]
    /// The underlying transport error for `.transport`.
    public var transportError: TransportError?
    /// A delay the service asked for (`Retry-After`, `x-amz-retry-after`), if any.
    public var retryAfter: Duration?

    public init(kind: Kind, service: String, operation: String, status: Int?, code: String, message: String,
                requestId: String? = nil, details: [String: String] = [:], transportError: TransportError? = nil,
                retryAfter: Duration? = nil) {
        self.kind = kind
        self.service = service
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.requestId = requestId
        self.details = details
        self.transportError = transportError
        self.retryAfter = retryAfter
    }

    /// A transport failure of `operation`.
    public init(service: String, operation: String, transport: TransportError) {
        self.init(kind: .transport, service: service, operation: operation, status: nil,
                  code: AWSError.transportCode(transport), message: transport.message, transportError: transport)
    }

    static func transportCode(_ error: TransportError) -> String {
        switch error.kind {
        case .dns: return "DNSResolutionFailed"
        case .connect: return "ConnectionFailed"
        case .connectTimeout: return "ConnectTimeout"
        case .readTimeout: return "ReadTimeout"
        case .tls: return "TLSError"
        case .reset: return "ConnectionReset"
        case .cancelled: return "Cancelled"
        case .other: return "TransportError"
        }
    }

    /// `S3 GetObject failed: NoSuchKey (404): The specified key does not exist. [request id ...]`
    public var description: String {
        var text = "\(service) \(operation) failed: \(code)"
        if let status { text += " (\(status))" }
        if !message.isEmpty { text += ": \(message)" }
        if let hint { text += " (\(hint))" }
        if let requestId { text += " [request id \(requestId)]" }
        return text
    }

    /// The service's message with the hint, if there is one, after it: what a report or log says.
    public var explanation: String {
        guard let hint else { return message }
        return message.isEmpty ? hint : "\(message) (\(hint))"
    }

    /// What to do about this error, when Conveyor knows more than the service's message says.
    public var hint: String? {
        if let skew = clockSkew { return AWSError.clockHint(skew) }
        return AWSError.hint(code: code, details: details)
    }

    /// How far this host's clock is behind AWS's, in seconds (negative: ahead), when the service
    /// refused the request for its time: S3's `RequestTimeTooSkewed` gives both times; the JSON
    /// services' `InvalidSignatureException` says "Signature expired: REQUEST is now earlier than
    /// BOUND (SERVER - 15 min.)" or "Signature not yet current: ... (SERVER + 15 min.)".
    public var clockSkew: TimeInterval? {
        if let request = details["RequestTime"].flatMap(AWSError.parseTime),
           let server = details["ServerTime"].flatMap(AWSError.parseTime) {
            return server.timeIntervalSince(request).rounded()
        }
        guard message.hasPrefix("Signature expired") || message.hasPrefix("Signature not yet current") else { return nil }
        let stamps = message.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == ")" || $0 == ":" })
            .compactMap { AWSError.parseTime(String($0)) }
        guard stamps.count == 3 else { return nil }
        return stamps[2].timeIntervalSince(stamps[0]).rounded()
    }

    /// `20261130T020000Z` (SigV4) or `2026-11-30T02:00:00Z` (ISO 8601).
    static func parseTime(_ text: String) -> Date? {
        ISO8601Timestamp.parse(text) ?? Timestamp.parseCompact(text)
    }

    static func clockHint(_ skew: TimeInterval) -> String {
        let minutes = Int((abs(skew) / 60).rounded())
        let amount = minutes == 1 ? "1 minute" : "\(minutes) minutes"
        return "the clock of this host is \(amount) \(skew > 0 ? "behind" : "ahead of") AWS's, and AWS refuses requests "
            + "more than 15 minutes off; fix the clock (NTP, e.g. chrony or systemd-timesyncd)"
    }

    static func hint(code: String, details: [String: String]) -> String? {
        switch code {
        case "RequestTimeTooSkewed", "SignatureExpired":
            return "this machine's clock differs from AWS's by more than 15 minutes; fix the clock (NTP)"
        case "PermanentRedirect", "AuthorizationHeaderMalformed":
            if let region = details["Region"] { return "the bucket is in region \(region)" }
            return nil
        case "ExpiredToken", "ExpiredTokenException":
            return "the session credentials have expired; refresh them"
        default:
            return nil
        }
    }
}

extension AWSError {
    /// Error codes that mean throttling (botocore's standard-mode list).
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]

    /// Codes that mean the caller may not do this or is not who it claims to be.
    public static let accessDeniedCodes: Set<String> = [
        "AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
        "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidClientTokenId", "ExpiredToken",
        "ExpiredTokenException", "TokenRefreshRequired", "MissingAuthenticationToken", "IncompleteSignature",
        "RequestTimeTooSkewed", "SignatureExpired", "AllAccessDisabled", "AccountProblem", "InvalidToken",
        "NotAuthorized", "AuthFailure", "RequestExpired", "KMSAccessDeniedException", "InvalidKeyId",
    ]

    /// Codes that mean the thing asked for does not exist.
    public static let notFoundCodes: Set<String> = [
        "NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion", "NotFound", "ResourceNotFoundException",
        "ResourceNotFound", "ParameterNotFound", "ParameterVersionNotFound", "ParameterLabelNotFound",
    ]

    /// Codes that mean the request itself is invalid.
    public static let invalidRequestCodes: Set<String> = [
        "ValidationException", "ValidationError", "InvalidRequest", "InvalidArgument", "InvalidParameter",
        "InvalidParameterValue", "InvalidParameterCombination", "MalformedXML", "InvalidBucketName",
        "KeyTooLongError", "EntityTooLarge", "EntityTooSmall", "InvalidPart", "InvalidPartOrder",
        "InvalidRange", "SerializationException", "MissingParameter", "InvalidFilterKey", "InvalidFilterOption",
        "InvalidFilterValue", "InvalidNextToken", "InvalidDigest", "BadDigest", "InvalidAllowedPatternException",
        "HierarchyLevelLimitExceededException", "XAmzContentSHA256Mismatch", "MetadataTooLarge",
    ]

    /// Classifies a service answer by its code first, then by its HTTP status.
    public static func classify(code: String, status: Int) -> Kind {
        if throttlingCodes.contains(code) { return .throttled }
        if accessDeniedCodes.contains(code) { return .accessDenied }
        if notFoundCodes.contains(code) { return .notFound }
        if code == "PreconditionFailed" { return .preconditionFailed }
        if invalidRequestCodes.contains(code) { return .invalidRequest }
        switch status {
        case 401, 403: return .accessDenied
        case 404: return .notFound
        case 412: return .preconditionFailed
        case 429 where code == String(status): return .throttled
        case 400, 413, 414, 416, 422: return code == "RequestTimeout" ? .service : .invalidRequest
        default: return .service
        }
    }
}
