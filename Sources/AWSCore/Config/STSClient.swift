import Foundation

/// The two AWS STS operations the credential chain needs, in STS's query protocol: a form-encoded
/// `POST /` (`Action=...&Version=2011-06-15&...`) answered with XML.
///
/// - `AssumeRole` is signed with the source credentials (through `AWSClient`, so it is retried as
///   any call is).
/// - `AssumeRoleWithWebIdentity` is unsigned (botocore's `authtype: none`); it is retried on
///   transient failures and on STS's `IDPCommunicationError`, as botocore does.
///
/// The endpoint comes from `EndpointResolver` (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, the
/// profile's `services` section or `endpoint_url`), else `https://sts.{region}.amazonaws.com`, else
/// (no region at all) the global `https://sts.amazonaws.com`, signed for `us-east-1`.
public struct STSClient: Sendable {
    public static let serviceInfo = ServiceInfo(
        serviceId: "STS", signingName: "sts", endpointPrefix: "sts", wireProtocol: .query, signerOptions: .default)
    static let apiVersion = "2011-06-15"

    public let endpoint: Endpoint
    /// The region requests are signed for.
    public let region: String
    public let transport: any HTTPTransport
    public let timeouts: HTTPTimeouts

    public init(endpoint: Endpoint, region: String, transport: any HTTPTransport,
                timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(5), read: .seconds(30))) {
        self.endpoint = endpoint
        self.region = region
        self.transport = transport
        self.timeouts = timeouts
    }

    /// The client for `region` (nil: the global endpoint) as the configuration names it.
    public init(endpoints: EndpointResolver, region: String?, transport: any HTTPTransport) throws {
        let signingRegion = region ?? "us-east-1"
        if let configured = try endpoints.configuredEndpoint(for: .sts) {
            self.init(endpoint: configured.endpoint, region: signingRegion, transport: transport)
        } else if let region {
            self.init(endpoint: EndpointResolver.awsEndpoint(for: .sts, region: region), region: region,
                      transport: transport)
        } else {
            self.init(endpoint: Endpoint(scheme: "https", host: "sts.amazonaws.com"), region: signingRegion,
                      transport: transport)
        }
    }

    /// STS `AssumeRole`, signed with `source`.
    public func assumeRole(roleArn: String, sessionName: String, externalId: String?, durationSeconds: Int?,
                           source: Credentials, providerName: String) async throws -> Credentials {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let externalId { parameters.append(("ExternalId", externalId)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let client = AWSClient(service: Self.serviceInfo, region: region, endpoint: endpoint,
                               credentials: StaticCredentialProvider(source), transport: transport, timeouts: timeouts)
        let response: HTTPResponse
        do {
            response = try await client.send(request("AssumeRole", parameters), operation: "AssumeRole")
        } catch let error as AWSError {
            throw Self.failure(error, providerName: providerName, what: "assuming role \(roleArn)")
        }
        return try Self.credentials(in: response.body, operation: "AssumeRole", providerName: providerName)
    }

    /// STS `AssumeRoleWithWebIdentity`, unsigned; `token` is the web identity token (never logged).
    public func assumeRoleWithWebIdentity(roleArn: String, sessionName: String, token: String,
                                          durationSeconds: Int? = nil, providerName: String) async throws
        -> Credentials
    {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName), ("WebIdentityToken", token)]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let operation = "AssumeRoleWithWebIdentity"
        let request = self.request(operation, parameters)
        let retry = RetryHandler(configuration: RetryConfiguration())
        let response: HTTPResponse
        do {
            response = try await retry.run { _ in try await sendUnsigned(request, operation: operation) }.value
        } catch let error as AWSError {
            throw Self.failure(error, providerName: providerName,
                               what: "assuming role \(roleArn) with a web identity token")
        }
        return try Self.credentials(in: response.body, operation: operation, providerName: providerName)
    }

    /// Sends `request` as it is; a non-2xx answer is thrown as the service's `AWSError`.
    private func sendUnsigned(_ request: HTTPRequest, operation: String) async throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await transport.execute(request, timeouts: timeouts)
        } catch {
            throw AWSError(service: Self.serviceInfo.serviceId, operation: operation, transport: error)
        }
        guard (200..<300).contains(response.status) else {
            throw AWSErrorParser.parse(response, protocol: .query, service: Self.serviceInfo.serviceId,
                                       operation: operation)
        }
        return response
    }

    private func request(_ action: String, _ parameters: [(String, String)]) -> HTTPRequest {
        let pairs = [("Action", action), ("Version", Self.apiVersion)] + parameters
        let body = pairs.map {
            AWSPercentEncoding.encode($0.0, allowSlash: false) + "=" + AWSPercentEncoding.encode($0.1, allowSlash: false)
        }.joined(separator: "&")
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        headers.add("Accept", "text/xml")
        return HTTPRequest(method: "POST", endpoint: endpoint, path: "/", headers: headers, body: Data(body.utf8))
    }

    static func failure(_ error: AWSError, providerName: String, what: String) -> CredentialsError {
        CredentialsError(kind: .requestFailed, message: "\(providerName): \(what) failed: \(error)", provider: providerName)
    }

    /// `<XResponse><XResult><Credentials>` → `Credentials`. Errors never quote the answer.
    static func credentials(in body: Data, operation: String, providerName: String) throws -> Credentials {
        func invalid(_ text: String) -> CredentialsError {
            CredentialsError(kind: .invalidCredentials, message: "\(providerName): STS \(operation) answered \(text)",
                             provider: providerName)
        }
        guard let root = try? XMLElement.parse(body) else { throw invalid("with something that is not XML") }
        guard let result = root.child("\(operation)Result"), let credentials = result.child("Credentials") else {
            throw invalid("without \(operation)Result/Credentials")
        }
        func field(_ name: String) throws -> String {
            guard let value = credentials.text(of: name)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !value.isEmpty else { throw invalid("without Credentials/\(name)") }
            return value
        }
        let accessKey = try field("AccessKeyId")
        let secretKey = try field("SecretAccessKey")
        let token = try field("SessionToken")
        let expirationText = try field("Expiration")
        guard let expiration = ISO8601Timestamp.parse(expirationText) else {
            throw invalid("with an Expiration that is not an ISO-8601 timestamp")
        }
        return Credentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token,
                           expiration: expiration, source: providerName)
    }
}
