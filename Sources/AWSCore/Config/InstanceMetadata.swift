import Dispatch
import Foundation
import Synchronization

/// The EC2 instance metadata service (IMDS), as botocore's `InstanceMetadataFetcher` uses it.
///
/// - Endpoint: `AWS_EC2_METADATA_SERVICE_ENDPOINT` (or the profile's
///   `ec2_metadata_service_endpoint`), else by `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` /
///   `ec2_metadata_service_endpoint_mode`: `http://169.254.169.254` (IPv4, the default) or
///   `http://[fd00:ec2::254]` (IPv6).
/// - `AWS_EC2_METADATA_DISABLED=true` switches it off.
/// - IMDSv2 first: `PUT /latest/api/token` with `x-aws-ec2-metadata-token-ttl-seconds: 21600`; the
///   token goes into `x-aws-ec2-metadata-token` on every `GET`. When the PUT is answered 403, 404 or
///   405, or times out, the GETs go without a token (IMDSv1), unless
///   `AWS_EC2_METADATA_V1_DISABLED=true` (or `ec2_metadata_v1_disabled`); a 400 is an error.
/// - Timeouts `AWS_METADATA_SERVICE_TIMEOUT` (default 1 s) and attempts
///   `AWS_METADATA_SERVICE_NUM_ATTEMPTS` (default 1), so a machine that is not on EC2 finds out in
///   about a second.
public struct InstanceMetadataClient: Sendable {
    public static let tokenTTLSeconds = 21600

    public let endpoint: Endpoint
    public let disabled: Bool
    public let v1Disabled: Bool
    public let timeout: Duration
    public let attempts: Int
    public let transport: any HTTPTransport

    public init(endpoint: Endpoint, disabled: Bool = false, v1Disabled: Bool = false, timeout: Duration = .seconds(1),
                attempts: Int = 1, transport: any HTTPTransport) {
        self.endpoint = endpoint
        self.disabled = disabled
        self.v1Disabled = v1Disabled
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.transport = transport
    }

    /// The client the environment and the profile describe. Throws `.configuration` for a
    /// malformed endpoint or mode.
    public init(environment: AWSEnvironment, profile: ConfigProfile?, transport: any HTTPTransport) throws {
        func setting(_ variable: String, _ key: String) -> String? {
            environment[variable] ?? profile?[key].flatMap { $0.isEmpty ? nil : $0 }
        }
        func configuration(_ text: String) -> CredentialsError {
            CredentialsError(kind: .configuration, message: "\(InstanceMetadataCredentialProvider.name): \(text)",
                             provider: InstanceMetadataCredentialProvider.name)
        }
        let endpoint: Endpoint
        if let url = setting("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint") {
            guard let parsed = Endpoint(url: url, isCustom: true) else {
                throw configuration("AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL")
            }
            endpoint = parsed
        } else {
            switch setting("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ec2_metadata_service_endpoint_mode")?.lowercased() {
            case nil, "ipv4"?: endpoint = Endpoint(scheme: "http", host: "169.254.169.254")
            case "ipv6"?: endpoint = Endpoint(scheme: "http", host: "fd00:ec2::254")
            case let other?:
                throw configuration(
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is '\(other.prefix(20))'; expected IPv4 or IPv6")
            }
        }
        var timeout = Duration.seconds(1)
        if let text = environment["AWS_METADATA_SERVICE_TIMEOUT"] ?? profile?["metadata_service_timeout"] {
            guard let seconds = Double(text), seconds > 0, seconds <= 300 else {
                throw configuration("AWS_METADATA_SERVICE_TIMEOUT is '\(text.prefix(20))'; expected seconds, such as 1")
            }
            timeout = .milliseconds(Int(seconds * 1000))
        }
        var attempts = 1
        if let text = environment["AWS_METADATA_SERVICE_NUM_ATTEMPTS"] ?? profile?["metadata_service_num_attempts"] {
            guard let number = Int(text), (1...10).contains(number) else {
                throw configuration("AWS_METADATA_SERVICE_NUM_ATTEMPTS is '\(text.prefix(20))'; expected 1 to 10")
            }
            attempts = number
        }
        self.init(endpoint: endpoint,
                  disabled: environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true",
                  v1Disabled: setting("AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")?.lowercased() == "true",
                  timeout: timeout, attempts: attempts, transport: transport)
    }

    /// Why a metadata read gave nothing.
    public enum Failure: Error, Sendable, Equatable {
        /// Nothing answered (not on EC2, or the hop limit is too low for a container).
        case unreachable(String)
        /// The path does not exist (404): no role attached, say.
        case notFound(String)
        /// Anything else: a 400 to the token request, IMDSv1 refused, a 5xx after every attempt.
        case failed(String)
    }

    private var timeouts: HTTPTimeouts { HTTPTimeouts(connect: timeout, read: timeout) }

    private var tokenRequest: HTTPRequest {
        var headers = HTTPHeaders()
        headers.add("x-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenTTLSeconds))
        return HTTPRequest(method: "PUT", endpoint: endpoint, path: "/latest/api/token", headers: headers)
    }

    private func getRequest(_ path: String, token: String?) -> HTTPRequest {
        var headers = HTTPHeaders()
        if let token { headers.add("x-aws-ec2-metadata-token", token) }
        return HTTPRequest(method: "GET", endpoint: endpoint, path: path, headers: headers)
    }

    /// What the token request's outcome means: the token, or nil to go on with IMDSv1.
    private func token(from result: Result<HTTPResponse, TransportError>) throws(Failure) -> String? {
        let outcome: String
        switch result {
        case .success(let response):
            switch response.status {
            case 200:
                let token = String(decoding: response.body, as: UTF8.self)
                guard !token.isEmpty else { throw Failure.failed("the token request was answered with an empty token") }
                return token
            case 400:
                throw Failure.failed("the token request was refused as malformed (HTTP 400)")
            case 403, 404, 405:
                outcome = "HTTP \(response.status)"
            default:
                throw Failure.failed("the token request was answered HTTP \(response.status)")
            }
        case .failure(let error):
            // A timeout may be a hop limit too low for a container (IMDSv1 may still answer); with
            // IMDSv1 disabled there is nothing left to try.
            guard error.isTimeout, !v1Disabled else { throw Failure.unreachable(error.description) }
            outcome = error.description
        }
        if v1Disabled {
            throw Failure.failed(
                "IMDSv1 is disabled (AWS_EC2_METADATA_V1_DISABLED) and the IMDSv2 token request failed: \(outcome)")
        }
        return nil
    }

    /// What a GET's outcome means: the body, or a failure (`.notFound` is final, the others may be
    /// tried again).
    private func body(from result: Result<HTTPResponse, TransportError>, path: String) throws(Failure) -> Data {
        switch result {
        case .success(let response):
            if response.status == 200 && !response.body.isEmpty { return response.body }
            if response.status == 404 { throw Failure.notFound("\(path) does not exist (HTTP 404)") }
            throw Failure.failed("GET \(path) was answered HTTP \(response.status)"
                + (response.status == 401 ? " (the IMDSv2 token was refused)" : ""))
        case .failure(let error):
            throw Failure.unreachable(error.description)
        }
    }

    private func send(_ request: HTTPRequest) async -> Result<HTTPResponse, TransportError> {
        do {
            return .success(try await transport.execute(request, timeouts: timeouts))
        } catch {
            return .failure(error)
        }
    }

    /// `PUT /latest/api/token`: the token, or nil to go on with IMDSv1.
    func fetchToken() async throws(Failure) -> String? {
        let result = await send(tokenRequest)
        return try token(from: result)
    }

    /// `GET path` with the token, tried up to `attempts` times on errors or an empty body.
    func get(_ path: String, token: String?) async throws(Failure) -> Data {
        var last = Failure.failed("no attempt")
        for _ in 1...attempts {
            let result = await send(getRequest(path, token: token))
            do {
                return try body(from: result, path: path)
            } catch {
                if case .notFound = error { throw error }
                last = error
            }
        }
        throw last
    }

    /// The instance's region (`/latest/meta-data/placement/region`), nil when IMDS is disabled or
    /// gives none. For the synchronous region resolver: it waits on a semaphore that the
    /// transport signals from its own Dispatch queue, so it never depends on the cooperative pool
    /// (which the waiting thread may belong to).
    public func regionBlocking() -> String? {
        guard !disabled else { return nil }
        func sendBlocking(_ request: HTTPRequest) -> Result<HTTPResponse, TransportError> {
            let box = ResultBox()
            let done = DispatchSemaphore(value: 0)
            transport.execute(request, timeouts: timeouts, queue: transportCompletionQueue) { result in
                box.value.withLock { $0 = result }
                done.signal()
            }
            done.wait()
            return box.value.withLock { $0 }
                ?? .failure(TransportError(kind: .other, message: "no answer", requestSent: false))
        }
        do {
            let token = try token(from: sendBlocking(tokenRequest))
            let path = "/latest/meta-data/placement/region"
            for _ in 1...attempts {
                guard let body = try? body(from: sendBlocking(getRequest(path, token: token)), path: path) else { continue }
                return String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return nil
        } catch {
            return nil
        }
    }

    private final class ResultBox: Sendable {
        let value = Mutex<Result<HTTPResponse, TransportError>?>(nil)
    }
}

/// Credentials of the IAM role attached to the EC2 instance, as botocore's
/// `InstanceMetadataProvider`: token, then the role name from
/// `/latest/meta-data/iam/security-credentials/`, then that role's credentials.
///
/// Not configured when IMDS is disabled, unreachable, or the instance has no role.
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public static let name = "instance metadata"
    static let credentialsPath = "/latest/meta-data/iam/security-credentials/"

    public let client: InstanceMetadataClient

    public init(client: InstanceMetadataClient) { self.client = client }

    public func credentials() async throws -> Credentials {
        guard !client.disabled else {
            throw CredentialsError.notConfigured(Self.name, "disabled by AWS_EC2_METADATA_DISABLED")
        }
        do {
            let token = try await client.fetchToken()
            let roles = String(decoding: try await client.get(Self.credentialsPath, token: token), as: UTF8.self)
            guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
                throw CredentialsError.notConfigured(Self.name, "the instance has no IAM role")
            }
            let body = try await client.get(Self.credentialsPath + AWSPercentEncoding.encode(role, allowSlash: false),
                                            token: token)
            return try MetadataCredentials.parse(body, providerName: Self.name, tokenField: "Token", requireToken: true)
        } catch let failure as InstanceMetadataClient.Failure {
            switch failure {
            case .unreachable(let why):
                throw CredentialsError.notConfigured(Self.name, "not reachable at \(client.endpoint): \(why)")
            case .notFound:
                throw CredentialsError.notConfigured(Self.name, "the instance has no IAM role")
            case .failed(let why):
                throw CredentialsError(kind: .requestFailed, message: "\(Self.name) at \(client.endpoint): \(why)",
                                       provider: Self.name)
            }
        }
    }
}
