import Foundation

/// Credentials from the ECS task or EKS Pod Identity endpoint, as botocore's `ContainerProvider`.
///
/// - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (wins when both are set): `http://169.254.170.2` + the path.
/// - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: any `https` URL; `http` only to a loopback address or to
///   the documented link-local hosts `169.254.170.2` (ECS), `169.254.170.23` and `fd00:ec2::23`
///   (EKS Pod Identity).
/// - `Authorization` header: the contents of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again
///   on every fetch, as the agent rotates it), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`; a token
///   with CR or LF is refused.
/// - `GET` with `Accept: application/json`, 2 s timeouts, 3 attempts 1 s apart; the answer is
///   `{AccessKeyId, SecretAccessKey, Token, Expiration}`.
///
/// Not configured when neither URI variable is set. Caching and refresh are the chain's.
public struct ContainerCredentialProvider: CredentialProvider {
    public static let name = "container"
    static let ecsHost = "169.254.170.2"
    static let allowedHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"]

    public let environment: AWSEnvironment
    public let transport: any HTTPTransport
    public let attempts: Int
    public let retryDelay: Duration
    public let timeouts: HTTPTimeouts

    public init(environment: AWSEnvironment, transport: any HTTPTransport, attempts: Int = 3,
                retryDelay: Duration = .seconds(1),
                timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(2), read: .seconds(2))) {
        self.environment = environment
        self.transport = transport
        self.attempts = max(1, attempts)
        self.retryDelay = retryDelay
        self.timeouts = timeouts
    }

    /// The endpoint the variables name; nil when neither is set. Throws `.configuration` for a
    /// full URI that is not allowed.
    public func endpointURL() throws -> (endpoint: Endpoint, path: String)? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            let path = relative.hasPrefix("/") ? relative : "/" + relative
            return (Endpoint(scheme: "http", host: Self.ecsHost), path)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] else { return nil }
        guard let parsed = Endpoint(url: full, isCustom: true) else {
            throw configuration("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL")
        }
        guard parsed.scheme == "https" || Self.isAllowedHTTPHost(parsed.host) else {
            throw configuration("AWS_CONTAINER_CREDENTIALS_FULL_URI uses http to host \(parsed.host); only https, "
                + "a loopback address, or \(Self.allowedHTTPHosts.sorted().joined(separator: ", ")) may be used")
        }
        let endpoint = Endpoint(scheme: parsed.scheme, host: parsed.host, port: parsed.port)
        return (endpoint, parsed.basePath.isEmpty ? "/" : parsed.basePath)
    }

    /// A loopback address (`127.0.0.0/8`, `::1`) or one of the documented container hosts.
    static func isAllowedHTTPHost(_ host: String) -> Bool {
        if allowedHTTPHosts.contains(host) || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    private func configuration(_ text: String) -> CredentialsError {
        CredentialsError(kind: .configuration, message: "\(Self.name): \(text)", provider: Self.name)
    }

    /// The `Authorization` value, read now (the file is re-read on every fetch).
    func authorizationToken() throws -> String? {
        var token: String?
        if let path = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            do {
                token = try String(contentsOfFile: environment.expandPath(path), encoding: .utf8)
            } catch {
                throw configuration(
                    "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path): \(error.localizedDescription)")
            }
        } else {
            token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        }
        guard let token else { return nil }
        let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.contains("\r") || trimmed.contains("\n") {
            throw configuration("the container authorization token contains a line break; refusing to send it")
        }
        return trimmed
    }

    public func credentials() async throws -> Credentials {
        guard let target = try endpointURL() else {
            throw CredentialsError.notConfigured(
                Self.name, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set")
        }
        let (endpoint, path) = target
        var headers = HTTPHeaders()
        headers.add("Accept", "application/json")
        if let token = try authorizationToken() { headers.add("Authorization", token) }
        let request = HTTPRequest(method: "GET", endpoint: endpoint, path: path, headers: headers)
        var lastProblem = ""
        for attempt in 1...attempts {
            if attempt > 1 { try await Task.sleep(for: retryDelay) }
            do {
                let response = try await transport.execute(request, timeouts: timeouts)
                if response.status == 200 {
                    return try MetadataCredentials.parse(response.body, providerName: Self.name,
                                                         tokenField: "Token", requireToken: false)
                }
                lastProblem = "HTTP \(response.status)"
                // 4xx answers (a wrong token) will not change by asking again.
                if (400..<500).contains(response.status) { break }
            } catch let error as TransportError {
                lastProblem = error.description
            }
        }
        throw CredentialsError(
            kind: .requestFailed,
            message: "\(Self.name): the credentials endpoint \(endpoint)\(path) failed: \(lastProblem)",
            provider: Self.name)
    }
}

/// The JSON answers of the container endpoint and of EC2 instance metadata:
/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (instance metadata adds
/// `"Code": "Success"`). Errors never quote the answer.
enum MetadataCredentials {
    static func parse(_ body: Data, providerName: String, tokenField: String, requireToken: Bool) throws -> Credentials {
        func invalid(_ text: String) -> CredentialsError {
            CredentialsError(kind: .invalidCredentials, message: "\(providerName): the credentials answer \(text)",
                             provider: providerName)
        }
        guard let object = try? JSONSerialization.jsonObject(with: body), let json = object as? [String: Any] else {
            throw invalid("is not a JSON object")
        }
        if let code = json["Code"] as? String, code != "Success" {
            throw invalid("has Code '\(code.prefix(40))' instead of Success")
        }
        func field(_ key: String) throws -> String {
            guard let value = json[key] as? String, !value.isEmpty else { throw invalid("has no \(key)") }
            return value
        }
        let accessKey = try field("AccessKeyId")
        let secretKey = try field("SecretAccessKey")
        var token = (json[tokenField] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if requireToken { token = try field(tokenField) }
        var expiration: Date?
        if requireToken || json["Expiration"] != nil {
            let text = try field("Expiration")
            guard let date = ISO8601Timestamp.parse(text) else {
                throw invalid("has an Expiration that is not an ISO-8601 timestamp")
            }
            expiration = date
        }
        return Credentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token,
                           expiration: expiration, source: providerName)
    }
}
