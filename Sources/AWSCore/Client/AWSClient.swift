import Foundation

/// What a client needs to know about its service.
public struct ServiceInfo: Sendable, Equatable {
    /// The service id as AWS names it (`S3`, `SSM`, `Bedrock Runtime`), used in errors.
    public var serviceId: String
    /// The SigV4 signing name (`s3`, `ssm`, `bedrock`).
    public var signingName: String
    /// The first label of the AWS host (`s3`, `ssm`, `bedrock-runtime`).
    public var endpointPrefix: String
    public var wireProtocol: AWSProtocol
    public var signerOptions: SigV4Signer.Options

    public init(serviceId: String, signingName: String, endpointPrefix: String, wireProtocol: AWSProtocol,
                signerOptions: SigV4Signer.Options) {
        self.serviceId = serviceId
        self.signingName = signingName
        self.endpointPrefix = endpointPrefix
        self.wireProtocol = wireProtocol
        self.signerOptions = signerOptions
    }
}

/// Signs and sends requests of one service, and turns every failure into an `AWSError`.
///
/// One client per service and region. It owns no threads: requests go through the shared
/// transport, which carries any number of them at once.
public final class AWSClient: Sendable {
    public let service: ServiceInfo
    public let region: String
    public let endpoint: Endpoint
    public let transport: any HTTPTransport
    public let credentialProvider: any CredentialProvider
    public let timeouts: HTTPTimeouts
    /// The client's retry owner: its mode, quota and (adaptive) rate limiter.
    public let retry: RetryHandler
    let clock: @Sendable () -> Date

    public convenience init(service: ServiceInfo, region: String, endpoint: Endpoint, credentials: any CredentialProvider,
                transport: any HTTPTransport, timeouts: HTTPTimeouts = .default,
                retry: RetryConfiguration = RetryConfiguration(),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.init(service: service, region: region, endpoint: endpoint, credentials: credentials, transport: transport,
                  timeouts: timeouts, retryHandler: RetryHandler(configuration: retry), clock: clock)
    }

    public init(service: ServiceInfo, region: String, endpoint: Endpoint, credentials: any CredentialProvider,
                transport: any HTTPTransport, timeouts: HTTPTimeouts, retryHandler: RetryHandler,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.service = service
        self.region = region
        self.endpoint = endpoint
        self.credentialProvider = credentials
        self.transport = transport
        self.timeouts = timeouts
        self.retry = retryHandler
        self.clock = clock
    }

    /// Signs `request` (with `signingRegion`, else the client's region), sends it, and returns the
    /// response when its status is 2xx. Any other status throws the service's error as `AWSError`;
    /// a network failure throws an `AWSError` of kind `.transport`. Credential failures are thrown
    /// as they come from the provider.
    ///
    /// Retryable failures are retried by the client's `RetryHandler`, re-signed each time, unless
    /// `retry` is false (the caller owns retrying). `check` may turn a 2xx answer into an error
    /// (S3's 200 with an `<Error>` body), which is then retried like any other.
    public func send(_ request: HTTPRequest, operation: String, signingRegion: String? = nil, retry: Bool = true,
                     check: ((HTTPResponse) -> AWSError?)? = nil) async throws -> HTTPResponse {
        try await sendCounting(request, operation: operation, signingRegion: signingRegion, retry: retry,
                               check: check).value
    }

    /// `send`, also saying how many attempts the call took.
    public func sendCounting(_ request: HTTPRequest, operation: String, signingRegion: String? = nil,
                             retry: Bool = true, check: ((HTTPResponse) -> AWSError?)? = nil) async throws
        -> RetryHandler.Outcome<HTTPResponse>
    {
        let once: (Int) async throws -> HTTPResponse = { _ in
            let response = try await self.sendRaw(request, operation: operation, signingRegion: signingRegion)
            guard (200..<300).contains(response.status) else {
                throw AWSErrorParser.parse(response, protocol: self.service.wireProtocol,
                                           service: self.service.serviceId, operation: operation)
            }
            if let check, let error = check(response) { throw error }
            return response
        }
        if !retry { return RetryHandler.Outcome(value: try await once(1), attempts: 1) }
        return try await self.retry.run(once)
    }

    /// Like `send` but returns any response, whatever its status.
    ///
    /// An answer of `ExpiredToken` / `ExpiredTokenException` (any service) makes the credential
    /// provider drop the credentials it was signed with, and the request is signed with fresh
    /// ones and sent once more; a second such answer is returned as it is.
    public func sendRaw(_ request: HTTPRequest, operation: String, signingRegion: String? = nil) async throws
        -> HTTPResponse
    {
        let (response, used) = try await signAndSend(request, operation: operation, signingRegion: signingRegion)
        guard isExpiredToken(response, operation: operation) else { return response }
        await credentialProvider.invalidate(used)
        return try await signAndSend(request, operation: operation, signingRegion: signingRegion).response
    }

    /// Error codes that say the session credentials have expired.
    public static let expiredTokenCodes: Set<String> = ["ExpiredToken", "ExpiredTokenException"]

    private func isExpiredToken(_ response: HTTPResponse, operation: String) -> Bool {
        guard response.status == 400 || response.status == 403 else { return false }
        return Self.expiredTokenCodes.contains(error(from: response, operation: operation).code)
    }

    private func signAndSend(_ request: HTTPRequest, operation: String, signingRegion: String?) async throws
        -> (response: HTTPResponse, credentials: Credentials)
    {
        let credentials = try await credentialProvider.credentials()
        var signed = request
        let signer = SigV4Signer(credentials: credentials, region: signingRegion ?? region,
                                 service: service.signingName, options: service.signerOptions)
        signer.sign(&signed, date: clock())
        do {
            return (try await transport.execute(signed, timeouts: timeouts), credentials)
        } catch {
            throw AWSError(service: service.serviceId, operation: operation, transport: error)
        }
    }

    /// The error a response carries, read with this service's protocol.
    public func error(from response: HTTPResponse, operation: String) -> AWSError {
        AWSErrorParser.parse(response, protocol: service.wireProtocol, service: service.serviceId, operation: operation)
    }
}

extension AWSClient {
    /// A client configured as the AWS SDKs would be: region, endpoint, credentials and retry
    /// mode from the environment and the shared files, through `configuration`.
    ///
    /// - Parameters:
    ///   - region: overrides the configured region (the job file's `model.region`, say).
    ///   - retry: overrides `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS` / the profile's settings.
    public convenience init(service: ServiceInfo, configuration: AWSConfiguration, transport: any HTTPTransport,
                            region: String? = nil, timeouts: HTTPTimeouts = .default,
                            retry: RetryConfiguration? = nil) throws {
        let regionName = try region ?? configuration.region.name
        let id = AWSServiceID(serviceId: service.serviceId, endpointPrefix: service.endpointPrefix)
        let endpoint = try configuration.endpoints.resolve(id, region: regionName).endpoint
        let retryConfiguration = try retry ?? configuration.retryConfiguration()
        self.init(service: service, region: regionName, endpoint: endpoint, credentials: configuration.credentials,
                  transport: transport, timeouts: timeouts, retry: retryConfiguration)
    }
}
