import Foundation
import Testing
@testable import AWSCore

// Every expected value below is copied from /work/shared/reference/aws-protocols.md (§1.7, §2.4,
// §2.8, §3.2, §4.3) unless a comment says otherwise.

/// Parses `yyyyMMdd'T'HHmmss'Z'` into a Date (test helper, independent of the signer's formatter).
func amzTime(_ text: String) -> Date {
    let digits = Array(text.utf8)
    func number(_ range: Range<Int>) -> Int { Int(String(decoding: digits[range], as: UTF8.self))! }
    var components = DateComponents()
    components.year = number(0..<4)
    components.month = number(4..<6)
    components.day = number(6..<8)
    components.hour = number(9..<11)
    components.minute = number(11..<13)
    components.second = number(13..<15)
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.date(from: components)!
}

/// The exact lines of a multi-line vector, joined with `\n`.
func lines(_ lines: String...) -> String { lines.joined(separator: "\n") }

// MARK: - §1.7 Bedrock Runtime Converse

@Suite struct SigV4BedrockTests {
    static let credentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        sessionToken: "SESSIONTOKEN")
    static let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock")
    static let date = amzTime("20250102T030405Z")
    static let body = Data(#"{"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 10}}"#.utf8)

    static func request(modelId: String) -> HTTPRequest {
        HTTPRequest(
            method: "POST", host: "bedrock-runtime.eu-west-1.amazonaws.com",
            path: "/model/\(AWSPercentEncoding.encode(modelId, allowSlash: false))/converse",
            headers: ["Content-Type": "application/json"], body: body)
    }

    @Test func inferenceProfileIdCanonicalRequestAndSignature() {
        #expect(Self.body.count == 99)
        var request = Self.request(modelId: "eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
        #expect(request.path == "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")

        let result = Self.signer.sign(&request, date: Self.date)
        #expect(result.canonicalRequest == lines(
            "POST",
            "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%253A0/converse",
            "",
            "content-type:application/json",
            "host:bedrock-runtime.eu-west-1.amazonaws.com",
            "x-amz-date:20250102T030405Z",
            "x-amz-security-token:SESSIONTOKEN",
            "",
            "content-type;host;x-amz-date;x-amz-security-token",
            "6b3fb1113743f818c585a75770f34098524d3f047635eb6968d6cebad596eaeb"))
        #expect(result.signature == "2dd635a099e6db58ad8594d4ba2487fd678ca0a996d5d4e87b5920db41afc9ba")
        #expect(request.headers["Authorization"]
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/eu-west-1/bedrock/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
            + "Signature=2dd635a099e6db58ad8594d4ba2487fd678ca0a996d5d4e87b5920db41afc9ba")
        // The wire path is untouched; only the canonical URI is encoded twice.
        #expect(request.path == "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")
    }

    @Test func arnCanonicalRequestAndSignature() {
        var request = Self.request(
            modelId: "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
        #expect(request.path == "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile"
            + "%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")

        let result = Self.signer.sign(&request, date: Self.date)
        // §1.2: the ARN path encoded once more (%3A → %253A, %2F → %252F); otherwise as §1.7.
        #expect(result.canonicalRequest == lines(
            "POST",
            "/model/arn%253Aaws%253Abedrock%253Aeu-west-1%253A123456789012%253Ainference-profile"
                + "%252Feu.anthropic.claude-3-7-sonnet-20250219-v1%253A0/converse",
            "",
            "content-type:application/json",
            "host:bedrock-runtime.eu-west-1.amazonaws.com",
            "x-amz-date:20250102T030405Z",
            "x-amz-security-token:SESSIONTOKEN",
            "",
            "content-type;host;x-amz-date;x-amz-security-token",
            "6b3fb1113743f818c585a75770f34098524d3f047635eb6968d6cebad596eaeb"))
        #expect(result.signature == "0c80ff05674a60655726851eebd6ba9454247bf5fb080f9fe31a902b96002c27")
    }

    @Test func headersOnTheWire() {
        var request = Self.request(modelId: "eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
        Self.signer.sign(&request, date: Self.date)
        #expect(request.headers["X-Amz-Date"] == "20250102T030405Z")
        #expect(request.headers["X-Amz-Security-Token"] == "SESSIONTOKEN")
        #expect(request.headers["Content-Type"] == "application/json")
        // §1.1: no x-amz-content-sha256 for non-S3 services; Host is sent by the transport.
        #expect(!request.headers.contains("X-Amz-Content-SHA256"))
        #expect(!request.headers.contains("Host"))
        #expect(request.headers.count == 4)
    }
}

// MARK: - §2.8 S3

@Suite struct SigV4S3Tests {
    // The S3 API reference examples ("Transferring Payload in a Single Chunk").
    static let docCredentials = Credentials(
        accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let docSigner = SigV4Signer(credentials: docCredentials, region: "us-east-1", service: "s3", options: .s3)
    static let docDate = amzTime("20130524T000000Z")
    static let docHost = "examplebucket.s3.amazonaws.com"

    // Self-generated with botocore.
    static let botoCredentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let botoDate = amzTime("20250102T030405Z")

    @Test func docGetObjectWithRange() {
        var request = HTTPRequest(method: "GET", host: Self.docHost, path: "/test.txt", headers: ["Range": "bytes=0-9"])
        let result = Self.docSigner.sign(&request, date: Self.docDate)
        #expect(result.canonicalRequest == lines(
            "GET",
            "/test.txt",
            "",
            "host:examplebucket.s3.amazonaws.com",
            "range:bytes=0-9",
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "x-amz-date:20130524T000000Z",
            "",
            "host;range;x-amz-content-sha256;x-amz-date",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(result.signedHeaders == "host;range;x-amz-content-sha256;x-amz-date")
        #expect(result.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(request.headers["Authorization"]
            == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(request.headers["X-Amz-Content-SHA256"] == AWSCrypto.emptySHA256Hex)
    }

    @Test func docPutObjectWithDateAndStorageClass() {
        let key = "test$file.text"
        var request = HTTPRequest(
            method: "PUT", host: Self.docHost, path: "/" + AWSPercentEncoding.encode(key, allowSlash: true),
            headers: ["Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"],
            body: Data("Welcome to Amazon S3.".utf8))
        #expect(request.path == "/test%24file.text")
        let result = Self.docSigner.sign(&request, date: Self.docDate)
        #expect(result.payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(request.headers["X-Amz-Content-SHA256"] == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(result.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(result.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        // The Date header is signed as given, beside X-Amz-Date.
        #expect(request.headers["Date"] == "Fri, 24 May 2013 00:00:00 GMT")
        #expect(request.headers["X-Amz-Date"] == "20130524T000000Z")
    }

    @Test func docListWithMaxKeysAndPrefix() {
        var request = HTTPRequest(
            method: "GET", host: Self.docHost, path: "/", query: [("max-keys", "2"), ("prefix", "J")])
        let result = Self.docSigner.sign(&request, date: Self.docDate)
        #expect(result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2]
            == "max-keys=2&prefix=J")
        #expect(result.signedHeaders == "host;x-amz-content-sha256;x-amz-date")
        #expect(result.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func botocorePutObjectIfNoneMatch() {
        let signer = SigV4Signer(credentials: Self.botoCredentials, region: "eu-west-1", service: "s3", options: .s3)
        var request = HTTPRequest(
            method: "PUT", host: "my-bucket.s3.eu-west-1.amazonaws.com",
            path: "/" + AWSPercentEncoding.encode("out/x y.jsonl", allowSlash: true),
            headers: ["If-None-Match": "*"], body: Data("hello".utf8))
        #expect(request.path == "/out/x%20y.jsonl")
        let result = signer.sign(&request, date: Self.botoDate)
        #expect(result.signedHeaders == "host;if-none-match;x-amz-content-sha256;x-amz-date")
        #expect(result.canonicalRequest.contains("\nif-none-match:*\n"))
        // S3: the wire path is the canonical URI, encoded once.
        #expect(result.canonicalRequest.hasPrefix("PUT\n/out/x%20y.jsonl\n\n"))
        #expect(result.signature == "662af7dcefd8b2b71583555cb069be6a25e6e48d7046e8448186c4d7604e2d8b")
    }

    @Test func botocoreListObjectsV2() {
        let signer = SigV4Signer(credentials: Self.botoCredentials, region: "us-east-1", service: "s3", options: .s3)
        // Raw values, in an order unlike the sorted one.
        var request = HTTPRequest(
            method: "GET", host: "my-bucket.s3.amazonaws.com", path: "/",
            query: [("list-type", "2"), ("prefix", "in put/"), ("max-keys", "5"), ("continuation-token", "abc/+="),
                    ("encoding-type", "url")])
        let result = signer.sign(&request, date: Self.botoDate)
        // §2.4
        #expect(result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2]
            == "continuation-token=abc%2F%2B%3D&encoding-type=url&list-type=2&max-keys=5&prefix=in%20put%2F")
        #expect(result.signedHeaders == "host;x-amz-content-sha256;x-amz-date")
        #expect(result.signature == "28cf468dcd80416bfb1f7bc54ad66730174bcd2db89f99265bd3dd81397cd7be")
    }

    @Test func unsignedPayload() {
        var options = SigV4Signer.Options.s3
        options.unsignedPayload = true
        let signer = SigV4Signer(credentials: Self.docCredentials, region: "us-east-1", service: "s3", options: options)
        var request = HTTPRequest(method: "PUT", host: Self.docHost, path: "/a", body: Data("body".utf8))
        let result = signer.sign(&request, date: Self.docDate)
        #expect(request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD")
        #expect(result.payloadHash == "UNSIGNED-PAYLOAD")
        #expect(result.canonicalRequest.hasSuffix("\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"))
    }

    @Test func emulatorHostKeepsNonDefaultPort() {
        // §2.1: path style on a custom endpoint; the signed host carries the port.
        let endpoint = Endpoint(url: "http://localhost:9000")!
        var request = HTTPRequest(method: "PUT", endpoint: endpoint, path: "/my-bucket/dir%20a/x.jsonl")
        let result = Self.docSigner.sign(&request, date: Self.docDate)
        #expect(result.canonicalRequest.contains("\nhost:localhost:9000\n"))
        #expect(result.canonicalRequest.hasPrefix("PUT\n/my-bucket/dir%20a/x.jsonl\n"))

        var defaultPort = HTTPRequest(method: "GET", scheme: "https", host: Self.docHost, port: 443, path: "/test.txt",
                                      headers: ["Range": "bytes=0-9"])
        let same = Self.docSigner.sign(&defaultPort, date: Self.docDate)
        #expect(same.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func s3PathIsNeitherNormalisedNorEncodedAgain() {
        let signer = Self.docSigner
        #expect(signer.canonicalURI(path: "/a//b/../c%2Fd/./e%20f") == "/a//b/../c%2Fd/./e%20f")
        #expect(signer.canonicalURI(path: "") == "/")
    }
}

// MARK: - §3.2 SSM

@Suite struct SigV4SSMTests {
    @Test func getParameter() {
        let credentials = Credentials(
            accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "ssm")
        let body = Data(#"{"Name": "/app/prod/key", "WithDecryption": true}"#.utf8)
        #expect(body.count == 49)
        var request = HTTPRequest(
            method: "POST", host: "ssm.eu-west-1.amazonaws.com", path: "/",
            headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"],
            body: body)
        let result = signer.sign(&request, date: amzTime("20250102T030405Z"))
        #expect(result.payloadHash == "b255f12025eab3c22c9b6479d269983f34c9c980c7689dcb453107779c25c176")
        #expect(result.canonicalRequest.hasSuffix("\nb255f12025eab3c22c9b6479d269983f34c9c980c7689dcb453107779c25c176"))
        #expect(result.signedHeaders == "content-type;host;x-amz-date;x-amz-target")
        #expect(result.signature == "0c0da2d7a26e9e2f1dfd31dcda72a610340ed7d87548c0070e09a9b340604cbc")
        #expect(!request.headers.contains("X-Amz-Content-SHA256"))
        #expect(!request.headers.contains("X-Amz-Security-Token"))
    }
}

// MARK: - §4.3 aws-c-auth suite

/// The aws-c-auth v4 cases. Their request paths are raw and encoded once, so the once-encoded wire
/// path is signed without a second encoding (smithy's `useDoubleUriEncode = false`).
@Suite struct SigV4AwsCAuthTests {
    static let credentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let date = amzTime("20150830T123600Z")
    static let host = "example.amazonaws.com"

    static func signer(normalize: Bool = true, signBody: Bool = false, token: String? = nil) -> SigV4Signer {
        var credentials = Self.credentials
        credentials.sessionToken = token
        return SigV4Signer(
            credentials: credentials, region: "us-east-1", service: "service",
            options: .init(doubleURIEncode: false, normalizePath: normalize, addContentSHA256Header: signBody))
    }

    @Test func getVanilla() {
        var request = HTTPRequest(method: "GET", host: Self.host, path: "/")
        let result = Self.signer().sign(&request, date: Self.date)
        #expect(result.canonicalRequest == lines(
            "GET",
            "/",
            "",
            "host:example.amazonaws.com",
            "x-amz-date:20150830T123600Z",
            "",
            "host;x-amz-date",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(result.stringToSign == lines(
            "AWS4-HMAC-SHA256",
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
        #expect(result.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(request.headers["Authorization"]
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func getVanillaPiecewiseAPI() {
        // The same vector through the step-by-step functions.
        let signer = Self.signer()
        let request = HTTPRequest(method: "GET", host: Self.host, path: "/")
        let canonical = signer.canonicalRequest(for: request, date: Self.date)
        let stringToSign = signer.stringToSign(canonicalRequest: canonical, date: Self.date)
        #expect(stringToSign.hasSuffix("\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
        #expect(signer.signature(stringToSign: stringToSign, date: Self.date)
            == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(signer.credentialScope(date: Self.date) == "20150830/us-east-1/service/aws4_request")
        // signingResult(for:) leaves the request alone.
        #expect(signer.signingResult(for: request, date: Self.date).signature
            == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(request.headers.count == 0)
    }

    @Test func getVanillaWithSessionToken() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        var request = HTTPRequest(method: "GET", host: Self.host, path: "/")
        let result = Self.signer(token: token).sign(&request, date: Self.date)
        #expect(result.canonicalRequest == lines(
            "GET",
            "/",
            "",
            "host:example.amazonaws.com",
            "x-amz-date:20150830T123600Z",
            "x-amz-security-token:\(token)",
            "",
            "host;x-amz-date;x-amz-security-token",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(result.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(result.stringToSign.hasSuffix("\n067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b"))
        #expect(result.signature == "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8")
        #expect(request.headers["X-Amz-Security-Token"] == token)
    }

    @Test func getVanillaQueryOrderEncoded() {
        var request = HTTPRequest(
            method: "GET", host: Self.host, path: "/",
            query: [("Param-3", "Value3"), ("Param", "Value2"), ("ሴ", "Value1")])
        let result = Self.signer().sign(&request, date: Self.date)
        #expect(result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2]
            == "%E1%88%B4=Value1&Param=Value2&Param-3=Value3")
        #expect(result.signature == "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac")
    }

    @Test func postXWWWFormURLEncoded() {
        var request = HTTPRequest(
            method: "POST", host: Self.host, path: "/",
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Content-Length": "13"],
            body: Data("Param1=value1".utf8))
        let result = Self.signer(signBody: true).sign(&request, date: Self.date)
        #expect(result.signedHeaders == "content-length;content-type;host;x-amz-content-sha256;x-amz-date")
        #expect(result.payloadHash == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
        #expect(result.signature == "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b")
    }

    @Test func getHeaderValueTrim() {
        // The suite's request also carries `My-Header1: value1` (§4.3 quotes only My-Header2).
        var request = HTTPRequest(
            method: "GET", host: Self.host, path: "/",
            headers: ["My-Header1": " value1", "My-Header2": #" "a   b   c""#])
        let result = Self.signer().sign(&request, date: Self.date)
        #expect(result.canonicalRequest.contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n"))
        #expect(result.signedHeaders == "host;my-header1;my-header2;x-amz-date")
        #expect(result.signature == "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")
    }

    @Test func getUTF8() {
        var request = HTTPRequest(method: "GET", host: Self.host, path: AWSPercentEncoding.encode("/ሴ", allowSlash: true))
        let result = Self.signer().sign(&request, date: Self.date)
        #expect(result.canonicalRequest.hasPrefix("GET\n/%E1%88%B4\n"))
        #expect(result.signature == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
    }

    @Test func getSlashesNormalized() {
        var request = HTTPRequest(method: "GET", host: Self.host, path: "//example//")
        let result = Self.signer(normalize: true).sign(&request, date: Self.date)
        #expect(result.canonicalRequest.hasPrefix("GET\n/example/\n"))
        #expect(result.signature == "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")
        #expect(request.path == "//example//")
    }

    @Test func getSlashesUnnormalized() {
        var request = HTTPRequest(method: "GET", host: Self.host, path: "//example//")
        let result = Self.signer(normalize: false).sign(&request, date: Self.date)
        #expect(result.canonicalRequest.hasPrefix("GET\n//example//\n"))
        #expect(result.signature == "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5")
    }

    /// botocore's 2011 suite: service `host`, a `Date` header and no `X-Amz-Date` (botocore uses the
    /// Date header instead when the request has one), wire path `/%20/foo` encoded a second time.
    @Test func botocore2011GetSpace() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "host")
        let request = HTTPRequest(
            method: "GET", host: "host.foo.com", path: "/%20/foo", headers: ["Date": "Mon, 09 Sep 2011 23:36:00 GMT"])
        let result = signer.signingResult(forPreparedRequest: request, date: amzTime("20110909T233600Z"))
        #expect(result.canonicalRequest == lines(
            "GET",
            "/%2520/foo",
            "",
            "date:Mon, 09 Sep 2011 23:36:00 GMT",
            "host:host.foo.com",
            "",
            "date;host",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(result.authorization
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, "
            + "SignedHeaders=date;host, Signature=2be9e587d1ee1f0fd02128724b86b4358ba3630d39f493b6e06610a19a50779e")
    }
}

// MARK: - Behaviour

@Suite struct SigV4BehaviourTests {
    static let credentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let date = amzTime("20150830T123600Z")

    @Test func resigningReplacesEarlierSigningHeaders() {
        var withToken = Self.credentials
        withToken.sessionToken = "OLDTOKEN"
        let first = SigV4Signer(credentials: withToken, region: "us-east-1", service: "s3", options: .s3)
        let second = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "s3", options: .s3)

        var request = HTTPRequest(method: "PUT", host: "b.s3.amazonaws.com", path: "/k",
                                  headers: ["Content-Type": "text/plain"], body: Data("x".utf8))
        first.sign(&request, date: amzTime("20150830T120000Z"))
        first.sign(&request, date: amzTime("20150830T121000Z"))
        #expect(request.headers.values("Authorization").count == 1)
        #expect(request.headers.values("X-Amz-Date") == ["20150830T121000Z"])
        #expect(request.headers.values("X-Amz-Security-Token") == ["OLDTOKEN"])
        #expect(request.headers.values("X-Amz-Content-SHA256").count == 1)

        // A retry with fresh credentials and clock: same as signing the untouched request.
        let result = second.sign(&request, date: Self.date)
        var fresh = HTTPRequest(method: "PUT", host: "b.s3.amazonaws.com", path: "/k",
                                headers: ["Content-Type": "text/plain"], body: Data("x".utf8))
        let freshResult = second.sign(&fresh, date: Self.date)
        #expect(result == freshResult)
        #expect(request.headers == fresh.headers)
        #expect(!request.headers.contains("X-Amz-Security-Token"))
        #expect(request.headers.values("Authorization") == [freshResult.authorization])
    }

    @Test func resigningDropsCallerSuppliedAuthHeadersOfAnyCase() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "service",
                                 options: .init(doubleURIEncode: false, normalizePath: true, addContentSHA256Header: false))
        var request = HTTPRequest(method: "GET", host: "example.amazonaws.com", path: "/",
                                  headers: ["authorization": "stale", "x-amz-date": "19990101T000000Z",
                                            "X-AMZ-SECURITY-TOKEN": "stale", "x-amz-content-sha256": "stale"])
        let result = signer.sign(&request, date: Self.date)
        // get-vanilla again.
        #expect(result.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(request.headers.count == 2)
    }

    @Test func sessionTokenIsAddedAndSigned() {
        var credentials = Self.credentials
        credentials.sessionToken = "TOKEN/with+chars="
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock")
        var request = HTTPRequest(method: "POST", host: "bedrock.eu-west-1.amazonaws.com", path: "/x")
        let result = signer.sign(&request, date: Self.date)
        #expect(request.headers["X-Amz-Security-Token"] == "TOKEN/with+chars=")
        #expect(result.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(result.canonicalRequest.contains("\nx-amz-security-token:TOKEN/with+chars=\n"))

        // An empty token is no token (botocore tests its truthiness).
        credentials.sessionToken = ""
        var bare = HTTPRequest(method: "POST", host: "bedrock.eu-west-1.amazonaws.com", path: "/x")
        let bareResult = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock")
            .sign(&bare, date: Self.date)
        #expect(!bare.headers.contains("X-Amz-Security-Token"))
        #expect(bareResult.signedHeaders == "host;x-amz-date")
    }

    @Test func queryIsSortedByEncodedNameThenValue() {
        #expect(SigV4Signer.canonicalQuery([("Param-3", "a"), ("Param", "b")]) == "Param=b&Param-3=a")
        #expect(SigV4Signer.canonicalQuery([("k", "b"), ("k", "a"), ("k", "B")]) == "k=B&k=a&k=b")
        #expect(SigV4Signer.canonicalQuery([("uploads", nil)]) == "uploads=")
        #expect(SigV4Signer.canonicalQuery([("partNumber", "2"), ("uploadId", "a b+c")])
            == "partNumber=2&uploadId=a%20b%2Bc")
        #expect(SigV4Signer.canonicalQuery([("a~b", "c*d")]) == "a~b=c%2Ad")
        // Sorting is on the encoded bytes: "%" (0x25) sorts before letters and "-".
        #expect(SigV4Signer.canonicalQuery([("b", "1"), ("ሴ", "2"), ("a b", "3")]) == "%E1%88%B4=2&a%20b=3&b=1")
        #expect(SigV4Signer.canonicalQuery([]) == "")
    }

    @Test func hostIsSignedButNotAddedToTheRequest() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "ssm")
        var request = HTTPRequest(method: "POST", scheme: "http", host: "127.0.0.1", port: 5000, path: "/")
        let result = signer.sign(&request, date: Self.date)
        #expect(result.canonicalRequest.contains("\nhost:127.0.0.1:5000\n"))
        #expect(!request.headers.contains("Host"))

        var ipv6 = HTTPRequest(method: "GET", scheme: "http", host: "::1", port: 80, path: "/")
        #expect(signer.sign(&ipv6, date: Self.date).canonicalRequest.contains("\nhost:[::1]\n"))
    }

    @Test func denylistedHeadersAreNotSigned() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "bedrock")
        var request = HTTPRequest(
            method: "POST", host: "bedrock.us-east-1.amazonaws.com", path: "/",
            headers: ["User-Agent": "conveyor/1.0", "Expect": "100-continue", "Connection": "keep-alive",
                      "Transfer-Encoding": "chunked", "X-Amzn-Trace-Id": "Root=1", "Keep-Alive": "5",
                      "TE": "trailers", "Trailer": "x", "Upgrade": "h2c", "Proxy-Authorization": "p",
                      "Proxy-Authenticate": "p", "amz-sdk-request": "attempt=1", "Content-Type": "application/json"])
        let result = signer.sign(&request, date: Self.date)
        #expect(result.signedHeaders == "amz-sdk-request;content-type;host;x-amz-date")
        #expect(request.headers["User-Agent"] == "conveyor/1.0")
    }

    @Test func repeatedHeadersAreJoinedWithComma() {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "service")
        var headers = HTTPHeaders()
        headers.add("X-Multi", " one ")
        headers.add("Content-Type", "text/plain")
        headers.add("x-multi", "two  words")
        var request = HTTPRequest(method: "GET", host: "example.amazonaws.com", path: "/", headers: headers)
        let result = signer.sign(&request, date: Self.date)
        #expect(result.canonicalRequest.contains("\nx-multi:one,two words\n"))
        #expect(result.signedHeaders == "content-type;host;x-amz-date;x-multi")
    }

    @Test func headerValuesAreTrimmedAndFolded() {
        #expect(SigV4Signer.normalizedHeaderValue("  a   b\t\tc  ") == "a b c")
        #expect(SigV4Signer.normalizedHeaderValue(#""a   b   c""#) == #""a b c""#)
        #expect(SigV4Signer.normalizedHeaderValue("x\r\n  y") == "x y")
        #expect(SigV4Signer.normalizedHeaderValue("   ") == "")
        #expect(SigV4Signer.normalizedHeaderValue("ሴ  ሴ") == "ሴ ሴ")
    }

    @Test func pathNormalisation() {
        #expect(SigV4Signer.normalizedPath("//example//") == "/example/")
        #expect(SigV4Signer.normalizedPath("/a/./b/../c") == "/a/c")
        #expect(SigV4Signer.normalizedPath("/a/b/..") == "/a")
        #expect(SigV4Signer.normalizedPath("/..") == "/")
        #expect(SigV4Signer.normalizedPath("/../") == "/")
        #expect(SigV4Signer.normalizedPath("/") == "/")
        #expect(SigV4Signer.normalizedPath("") == "/")
        #expect(SigV4Signer.normalizedPath("/a%2F..%2Fb/") == "/a%2F..%2Fb/")

        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "bedrock")
        #expect(signer.canonicalURI(path: "/%20/foo") == "/%2520/foo")
        #expect(signer.canonicalURI(path: "/a//b/./c/") == "/a/b/c/")
        #expect(signer.canonicalURI(path: "") == "/")
    }

    @Test func descriptionsNeverShowSecrets() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        let token = "SESSIONTOKEN-SECRET-VALUE"
        let credentials = Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret, sessionToken: token)
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock")
        var request = HTTPRequest(method: "POST", host: "bedrock-runtime.eu-west-1.amazonaws.com", path: "/x")
        let result = signer.sign(&request, date: Self.date)

        var dumpedSigner = ""
        dump(signer, to: &dumpedSigner)
        var dumpedResult = ""
        dump(result, to: &dumpedResult)
        let texts = [
            signer.description, signer.debugDescription, "\(signer)", String(reflecting: signer), dumpedSigner,
            result.description, result.debugDescription, "\(result)", String(reflecting: result), dumpedResult,
            result.redactedCanonicalRequest, request.headers.description, "\(signer.options)",
        ]
        for text in texts {
            #expect(!text.contains(secret))
            #expect(!text.contains(token))
            #expect(!text.contains(result.signature))
        }
        #expect(signer.description.contains("bedrock"))
        #expect(signer.description.contains("eu-west-1"))
        #expect(result.redactedCanonicalRequest.contains("x-amz-security-token:<redacted>"))
        #expect(result.debugDescription.contains("x-amz-date:20150830T123600Z"))
    }

    @Test func signingKeyDerivation() {
        // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4"
        // (20120215, us-east-1, iam); reproduced with Python's hmac.
        let key = SigV4Signer.deriveSigningKey(
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", dateStamp: "20120215", region: "us-east-1",
            service: "iam")
        #expect(AWSCrypto.hex(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")

        // The instance method (through the cache) gives the same key, every time.
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "iam")
        let date = amzTime("20120215T235959Z")
        #expect(signer.signingKey(date: date) == key)
        #expect(signer.signingKey(date: date) == key)
        // A different day, region, service or secret gives a different key.
        #expect(signer.signingKey(date: amzTime("20120216T000000Z")) != key)
        #expect(SigV4Signer(credentials: Self.credentials, region: "eu-west-1", service: "iam").signingKey(date: date) != key)
        #expect(SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "s3").signingKey(date: date) != key)
        var other = Self.credentials
        other.secretAccessKey = "another"
        #expect(SigV4Signer(credentials: other, region: "us-east-1", service: "iam").signingKey(date: date) != key)
    }

    @Test func signingKeyCacheStaysBounded() {
        let cache = SigningKeyCache(capacity: 4)
        for day in 10...19 {
            let key = cache.signingKey(for: .init(secretAccessKey: "s", dateStamp: "201201\(day)", region: "r",
                                                  service: "x"))
            #expect(key == SigV4Signer.deriveSigningKey(secretAccessKey: "s", dateStamp: "201201\(day)", region: "r",
                                                        service: "x"))
            #expect(cache.count <= 4)
        }
    }

    @Test func concurrentSigningIsDeterministic() async {
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "service",
                                 options: .init(doubleURIEncode: false, normalizePath: true, addContentSHA256Header: false))
        let signatures = await withTaskGroup(of: String.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var request = HTTPRequest(method: "GET", host: "example.amazonaws.com", path: "/")
                    return signer.sign(&request, date: Self.date).signature
                }
            }
            var all: Set<String> = []
            for await signature in group { all.insert(signature) }
            return all
        }
        #expect(signatures == ["5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"])
    }

    @Test func amzDateFormatting() {
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: -1)) == "19691231T235959Z")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_709_164_800.999)) == "20240229T000000Z")
        #expect(SigV4Signer.amzDate(amzTime("20250102T030405Z")) == "20250102T030405Z")
        #expect(SigV4Signer.amzDate(amzTime("20991231T235959Z")) == "20991231T235959Z")
        // Fractions of a second never round up into the next second.
        #expect(SigV4Signer.amzDate(amzTime("20150830T123600Z").addingTimeInterval(0.9)) == "20150830T123600Z")
    }

    @Test func presetOptions() {
        #expect(SigV4Signer.Options.default == .init(doubleURIEncode: true, normalizePath: true,
                                                     addContentSHA256Header: false, unsignedPayload: false))
        #expect(SigV4Signer.Options.s3 == .init(doubleURIEncode: false, normalizePath: false,
                                                addContentSHA256Header: true, unsignedPayload: false))
        #expect(SigV4Signer(credentials: Self.credentials, region: "r", service: "s").options == .default)
    }
}
