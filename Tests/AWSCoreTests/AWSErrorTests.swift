import Foundation
import Testing
@testable import AWSCore

@Suite struct AWSErrorParsingTests {
    func parse(_ status: Int, _ headers: HTTPHeaders = [:], _ body: String, _ proto: AWSProtocol) -> AWSError {
        AWSErrorParser.parse(HTTPResponse(status: status, headers: headers, body: Data(body.utf8)), protocol: proto,
                             service: "Svc", operation: "Op")
    }

    @Test func restXMLErrorBody() {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>\
            <Key>missing</Key><RequestId>REQ1</RequestId><HostId>h</HostId></Error>
            """
        let error = parse(404, [:], body, .restXML)
        #expect(error.code == "NoSuchKey")
        #expect(error.kind == .notFound)
        #expect(error.message == "The specified key does not exist.")
        #expect(error.requestId == "REQ1")
        #expect(error.details["Key"] == "missing")
        #expect(error.description.contains("Svc Op failed: NoSuchKey (404)"))
    }

    @Test func aClockThatIsOffIsMeasuredFromEitherShapeOfError() {
        let s3 = parse(403, [:], """
            <Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current \
            time is too large.</Message><RequestTime>20261130T020000Z</RequestTime>\
            <ServerTime>2026-11-30T02:42:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>
            """, .restXML)
        #expect(s3.clockSkew == TimeInterval(42 * 60))
        #expect(s3.description.contains("the clock of this host is 42 minutes behind AWS's"))
        let json = parse(400, [:], #"{"__type": "InvalidSignatureException", "message": "Signature not yet current: "#
            + #"20261130T030000Z is still later than 20261130T021500Z (20261130T020000Z + 15 min.)"}"#, .json)
        #expect(json.clockSkew == TimeInterval(-60 * 60))
        #expect(json.explanation.hasSuffix("(the clock of this host is 60 minutes ahead of AWS's, and AWS refuses requests "
            + "more than 15 minutes off; fix the clock (NTP, e.g. chrony or systemd-timesyncd))"))
        let expired = parse(400, [:], #"{"__type": "InvalidSignatureException", "message": "Signature expired: "#
            + #"20261130T013000Z is now earlier than 20261130T014500Z (20261130T020000Z - 15 min.)"}"#, .json)
        #expect(expired.clockSkew == TimeInterval(30 * 60))
        #expect(parse(403, [:], #"{"__type": "InvalidSignatureException", "message": "no match"}"#, .json).clockSkew == nil)
    }

    @Test func headWithoutBodyUsesTheStatus() {
        let notFound = parse(404, ["x-amz-request-id": "R"], "", .restXML)
        #expect(notFound.code == "404")
        #expect(notFound.kind == .notFound)
        #expect(notFound.message == "Not Found")
        #expect(notFound.requestId == "R")
        #expect(parse(403, [:], "", .restXML).kind == .accessDenied)
        #expect(parse(412, [:], "", .restXML).kind == .preconditionFailed)
        #expect(parse(301, ["x-amz-bucket-region": "eu-west-2"], "", .restXML).details["Region"] == "eu-west-2")
    }

    @Test func signatureMismatchKeepsNoCanonicalRequest() {
        let body = """
            <Error><Code>SignatureDoesNotMatch</Code><Message>no</Message>\
            <StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign>\
            <CanonicalRequest>GET / x-amz-security-token:TOPSECRETTOKEN</CanonicalRequest></Error>
            """
        let error = parse(403, [:], body, .restXML)
        #expect(error.kind == .accessDenied)
        #expect(error.details["CanonicalRequest"] == nil)
        #expect(error.details["StringToSign"] == nil)
        #expect(!error.description.contains("TOPSECRETTOKEN"))
        #expect(!"\(error)".contains("TOPSECRETTOKEN"))
    }

    @Test func jsonSignatureMismatchKeepsNoCanonicalRequest() {
        let body = #"{"__type": "InvalidSignatureException", "message": "The request signature we calculated does not "# +
            #"match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"# +
            #"x-amz-security-token:the-session-token\n'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256'\n"}"#
        let error = parse(400, [:], body, .json)
        #expect(error.code == "InvalidSignatureException")
        #expect(error.message.hasPrefix("The request signature we calculated does not match the signature you provided."))
        #expect(!error.description.contains("the-session-token"))
        #expect(!error.description.contains("String-to-Sign"))
    }

    @Test func jsonTypeIsSanitised() {
        let error = parse(400, [:], #"{"__type":"com.amazonaws.ssm#ParameterNotFound:http://x","message":"m"}"#, .json)
        #expect(error.code == "ParameterNotFound")
        #expect(error.kind == .notFound)
        #expect(error.message == "m")
        let throttled = parse(400, [:], #"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#, .json)
        #expect(throttled.kind == .throttled)
        #expect(throttled.message == "Rate exceeded")
        // JSON 1.1 reads __type before the header
        let both = parse(400, ["x-amzn-ErrorType": "Other"], #"{"__type":"ParameterNotFound"}"#, .json)
        #expect(both.code == "ParameterNotFound")
    }

    @Test func restJSONHeaderWins() {
        let headers: HTTPHeaders = [
            "x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": "abc",
        ]
        let error = parse(429, headers, #"{"message":"Too many requests, please wait before trying again."}"#, .restJSON)
        #expect(error.code == "ThrottlingException")
        #expect(error.kind == .throttled)
        #expect(error.requestId == "abc")
        #expect(parse(400, [:], #"{"code":"ValidationException","message":"bad"}"#, .restJSON).kind == .invalidRequest)
        #expect(parse(404, [:], #"{"__type":"ResourceNotFoundException"}"#, .restJSON).kind == .notFound)
    }

    @Test func htmlFiveHundredIsGeneric() {
        let error = parse(502, [:], "<html><body>Bad gateway</body></html>", .restXML)
        #expect(error.code == "502")
        #expect(error.kind == .service)
    }

    @Test(arguments: [
        ("ThrottlingException", 429, AWSError.Kind.throttled), ("SlowDown", 503, .throttled),
        ("ValidationException", 400, .invalidRequest), ("AccessDeniedException", 403, .accessDenied),
        ("UnrecognizedClientException", 403, .accessDenied), ("InvalidSignatureException", 403, .accessDenied),
        ("ExpiredTokenException", 403, .accessDenied), ("ResourceNotFoundException", 404, .notFound),
        ("NoSuchBucket", 404, .notFound), ("ParameterNotFound", 400, .notFound),
        ("InternalServerException", 500, .service), ("ServiceUnavailableException", 503, .service),
        ("ModelTimeoutException", 408, .service), ("ModelNotReadyException", 429, .service),
        ("ModelErrorException", 424, .service), ("RequestTimeout", 400, .service),
        ("ConditionalRequestConflict", 409, .service), ("PreconditionFailed", 412, .preconditionFailed),
        ("429", 429, .throttled), ("SomethingNew", 400, .invalidRequest),
    ])
    func classification(code: String, status: Int, kind: AWSError.Kind) {
        #expect(AWSError.classify(code: code, status: status) == kind)
    }

    @Test func retryAfterHeaders() {
        #expect(AWSErrorParser.retryAfter(["x-amz-retry-after": "1500"]) == .milliseconds(1500))
        #expect(AWSErrorParser.retryAfter(["Retry-After": "2"]) == .seconds(2))
        #expect(AWSErrorParser.retryAfter([:]) == nil)
    }

    @Test func skewGetsAHint() {
        let error = parse(403, [:], "<Error><Code>RequestTimeTooSkewed</Code><Message>m</Message></Error>", .restXML)
        #expect(error.description.contains("clock"))
    }

    @Test func transportErrorsBecomeTransportKind() {
        let error = AWSError(service: "S3", operation: "GetObject",
                             transport: TransportError(kind: .readTimeout, code: 28, message: "silent", requestSent: true))
        #expect(error.kind == .transport)
        #expect(error.code == "ReadTimeout")
        #expect(error.status == nil)
    }
}
