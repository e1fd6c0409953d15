import AWSCore
import AWSServices
import Foundation

/// A configuration problem found before anything runs (exit 2): no region, bad endpoint, bad
/// profile, a missing SSM parameter.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The AWS clients a job needs, configured as the AWS SDKs would be (environment, profile,
/// config files), plus the store of its inputs and outputs.
public struct RunServices: Sendable {
    public var storage: Storage
    public var ssm: (any SSMAPI)?
    public var bedrock: (any BedrockRuntimeAPI)?
    /// Bedrock's control plane, for engine batch.
    public var bedrockBatch: (any BedrockBatchAPI)?
    public var configuration: AWSConfiguration?
    /// The region of the model's calls.
    public var modelRegion: String?

    public init(storage: Storage, ssm: (any SSMAPI)? = nil, bedrock: (any BedrockRuntimeAPI)? = nil,
                configuration: AWSConfiguration? = nil, modelRegion: String? = nil) {
        self.storage = storage
        self.ssm = ssm
        self.bedrock = bedrock
        self.configuration = configuration
        self.modelRegion = modelRegion
    }

    /// The shared transport, or for more than it allows a host, one sized for `concurrency` model
    /// calls plus the S3 reads and writes of the items around them.
    static func transport(concurrency: Int) -> CurlTransport {
        let shared = CurlTransport.shared
        let needed = concurrency + concurrency / 4 + 4
        guard needed > shared.options.maxConnectionsPerHost, shared.options.maxConnectionsPerHost > 0 else { return shared }
        var options = shared.options
        options.maxConnectionsPerHost = needed
        return CurlTransport(options: options)
    }

    /// Makes the clients `job` uses. S3 and SSM clients exist only when the job names s3:// or
    /// ssm locations; the Bedrock client only when `model` is true (a dry run calls no model).
    /// Bedrock's client does not retry: the runner owns retrying and pacing. A configured
    /// plain-HTTP endpoint is refused unless it is on loopback or `allowHTTP` is set. Without a
    /// `transport`, the shared one serves up to 32 connections a host; a run with more calls in
    /// flight (`concurrency`) gets its own with room for them, since plain-HTTP endpoints (and
    /// HTTP/1.1 ones) carry one request per connection. With `batch` (engine batch), the
    /// control-plane client too, and S3 for the staging prefix.
    public static func make(for job: Job, environment: AWSEnvironment = .process, profile: String? = nil,
                            region: String? = nil, model: Bool, batch: Bool = false, allowHTTP: Bool = false,
                            transport: (any HTTPTransport)? = nil, concurrency: Int? = nil) throws
        -> RunServices
    {
        let transport = transport ?? Self.transport(concurrency: concurrency ?? job.limits.concurrency)
        let needsS3 = job.usesS3 || batch
        let needsSSM = job.usesSSM
        guard needsS3 || needsSSM || model else { return RunServices(storage: Storage(s3: nil)) }
        let configuration: AWSConfiguration
        do {
            configuration = try AWSConfiguration.resolve(environment: environment, profile: profile, region: region)
        } catch {
            throw ConfigurationError("\(error)")
        }
        let timeouts = HTTPTimeouts(connect: job.limits.connectTimeout, read: job.limits.readTimeout)
        // S3 and SSM: the configured region, else the model's
        let dataRegion = region ?? (try? configuration.region.name) ?? job.model.region
        var services = RunServices(storage: Storage(s3: nil), configuration: configuration)
        do {
            for (info, needed) in [(S3Client.serviceInfo, needsS3), (SSMClient.serviceInfo, needsSSM),
                                   (BedrockRuntimeClient.serviceInfo, model)] where needed && !allowHTTP {
                try refusePlainHTTP(info, configuration: configuration)
            }
            if needsS3 {
                guard let dataRegion else { throw ConfigurationError(Self.noRegion(configuration)) }
                services.storage = Storage(s3: S3Client(client: try AWSClient(
                    service: S3Client.serviceInfo, configuration: configuration, transport: transport, region: dataRegion,
                    timeouts: HTTPTimeouts(connect: job.limits.connectTimeout, read: .seconds(60)))))
            }
            if needsSSM {
                guard let dataRegion else { throw ConfigurationError(Self.noRegion(configuration)) }
                services.ssm = SSMClient(client: try AWSClient(
                    service: SSMClient.serviceInfo, configuration: configuration, transport: transport, region: dataRegion))
            }
            if model {
                guard let modelRegion = job.model.region ?? region ?? (try? configuration.region.name) else {
                    throw ConfigurationError(Self.noRegion(configuration))
                }
                services.modelRegion = modelRegion
                services.bedrock = BedrockRuntimeClient(client: try AWSClient(
                    service: BedrockRuntimeClient.serviceInfo, configuration: configuration, transport: transport,
                    region: modelRegion, timeouts: timeouts, retry: .disabled))
                if batch {
                    services.bedrockBatch = BedrockClient(client: try AWSClient(
                        service: BedrockClient.serviceInfo, configuration: configuration, transport: transport,
                        region: modelRegion, timeouts: timeouts))
                }
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("\(error)")
        }
        return services
    }

    /// Throws when the configured endpoint of `service` is plain HTTP to a host other than
    /// loopback: signed requests, prompts and answers would cross the network unencrypted.
    static func refusePlainHTTP(_ service: ServiceInfo, configuration: AWSConfiguration) throws {
        let id = AWSServiceID(serviceId: service.serviceId, endpointPrefix: service.endpointPrefix)
        guard let configured = try configuration.endpoints.configuredEndpoint(for: id),
              configured.endpoint.scheme == "http", !isLoopback(configured.endpoint.host) else { return }
        throw ConfigurationError("\(configured.source) gives a plain-HTTP endpoint for \(service.serviceId), "
            + "\(configured.endpoint): requests, prompts and answers would cross the network unencrypted. Use an "
            + "https:// endpoint, or pass --allow-http if the network to it is trusted")
    }

    /// `localhost`, `127.0.0.0/8` written as an address, or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        let name = host.hasSuffix(".") ? String(host.dropLast()) : host
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { $0.count <= 3 && UInt8($0) != nil }
    }

    static func noRegion(_ configuration: AWSConfiguration) -> String {
        if case .failure(let error) = configuration.regionResult { return "\(error); or set model.region in the job" }
        return "no AWS region configured: set AWS_REGION, pass --region or set model.region in the job"
    }
}

extension Job {
    /// Whether any location of the job is in S3.
    public var usesS3: Bool {
        var texts = (inputs?.locations ?? []).map(\.text) + [output.location.text] + (report.map { [$0.text] } ?? [])
        texts += prompts.flatMap { [$0.input?.text, $0.output?.text].compactMap { $0 } }
        if case .s3 = system { return true }
        if case .s3 = prompt { return true }
        return texts.contains { $0.hasPrefix("s3://") }
    }

    /// Whether the job reads SSM parameters.
    public var usesSSM: Bool {
        if case .ssm = system { return true }
        if case .ssm = prompt { return true }
        return false
    }
}
