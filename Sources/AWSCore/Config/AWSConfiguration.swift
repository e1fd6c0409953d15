import Foundation

/// Everything the AWS clients and `conveyor doctor` need from the environment and the shared
/// files: the selected profile, the region (or why there is none), the credential chain and the
/// endpoint resolver, each with the source that won.
///
/// ```swift
/// let aws = try AWSConfiguration.resolve(profile: options.profile, region: options.region)
/// let region = try aws.region                       // AWSConfigError when none is configured
/// let endpoint = try aws.endpoint(for: .bedrockRuntime)
/// let credentials = try await aws.credentials.credentials()
/// ```
public struct AWSConfiguration: Sendable {
    public let environment: AWSEnvironment
    public let files: SharedConfigFiles
    public let profile: ProfileSelection
    /// The region with its source, or the error listing what was tried.
    public let regionResult: Result<ResolvedRegion, AWSConfigError>
    /// The default credential chain for the profile.
    public let credentials: DefaultCredentialChain
    public let endpoints: EndpointResolver

    /// Reads the shared files and resolves profile and region.
    ///
    /// - Parameters:
    ///   - profile: an explicit profile (the CLI's `--profile`); it wins over `AWS_PROFILE` and
    ///     `AWS_DEFAULT_PROFILE`, and, as in botocore, takes environment credentials out of the chain.
    ///   - region: an explicit region (the CLI's `--region`, a job file), named by `regionSource`.
    ///   - now: the clock credential expiry is measured against.
    /// - Throws: `AWSConfigError` when a shared file cannot be read or parsed, or when a profile
    ///   asked for explicitly (argument or variable) exists in neither file. A missing region is
    ///   not thrown here but kept in `regionResult`.
    ///   - transport: carries the credential chain's STS, container and instance metadata requests,
    ///     and the instance metadata region lookup.
    public static func resolve(environment: AWSEnvironment = .process, profile: String? = nil,
                               region: String? = nil, regionSource: String = "--region",
                               transport: any HTTPTransport = CurlTransport.shared,
                               now: @escaping @Sendable () -> Date = { Date() }) throws -> AWSConfiguration {
        let files = try SharedConfigFiles.load(environment: environment)
        let selection = ProfileSelection.select(explicit: profile, environment: environment)
        try selection.validate(in: files)
        let regionResult: Result<ResolvedRegion, AWSConfigError>
        do {
            // A broken metadata setting is the credential chain's to report; the region then
            // simply has no metadata source.
            let metadata = try? InstanceMetadataClient(environment: environment,
                                                       profile: files.profile(named: selection.name), transport: transport)
            regionResult = .success(try RegionResolver.resolve(
                override: region.map { ($0, regionSource) }, environment: environment,
                profileName: selection.name, files: files, instanceMetadata: metadata))
        } catch {
            regionResult = .failure(error)
        }
        return AWSConfiguration(
            environment: environment, files: files, profile: selection, regionResult: regionResult,
            credentials: DefaultCredentialChain(profile: selection, files: files, environment: environment,
                                                region: try? regionResult.get().name, transport: transport, now: now),
            endpoints: EndpointResolver(environment: environment, files: files, profileName: selection.name))
    }

    public init(environment: AWSEnvironment, files: SharedConfigFiles, profile: ProfileSelection,
                regionResult: Result<ResolvedRegion, AWSConfigError>, credentials: DefaultCredentialChain,
                endpoints: EndpointResolver) {
        self.environment = environment
        self.files = files
        self.profile = profile
        self.regionResult = regionResult
        self.credentials = credentials
        self.endpoints = endpoints
    }

    /// The region; throws the `AWSConfigError` that lists what was tried when there is none.
    public var region: ResolvedRegion {
        get throws { try regionResult.get() }
    }

    /// The endpoint for `service` in the resolved region. A configured endpoint needs no region.
    public func endpoint(for service: AWSServiceID) throws -> ResolvedEndpoint {
        if let configured = try endpoints.configuredEndpoint(for: service) { return configured }
        return try endpoints.resolve(service, region: try region.name)
    }

    /// One line of `conveyor doctor`'s configuration section.
    public struct Fact: Sendable, Equatable {
        public var label: String
        public var value: String
        /// False when this part of the configuration is broken.
        public var ok: Bool

        public init(label: String, value: String, ok: Bool) {
            self.label = label
            self.value = value
            self.ok = ok
        }
    }

    /// Where each setting came from: profile, files, region, credentials (resolving them, which
    /// may run `credential_process`) and the endpoint of each of `services`. Never shows a secret.
    public func facts(services: [AWSServiceID] = [.bedrockRuntime, .s3, .ssm]) async -> [Fact] {
        var facts: [Fact] = []
        facts.append(Fact(label: "profile", value: profile.description, ok: true))
        facts.append(Fact(label: "config file",
                          value: files.configPath + (files.configFileFound ? "" : " (not found)"), ok: true))
        facts.append(Fact(label: "credentials file",
                          value: files.credentialsPath + (files.credentialsFileFound ? "" : " (not found)"), ok: true))
        switch regionResult {
        case .success(let region): facts.append(Fact(label: "region", value: region.description, ok: true))
        case .failure(let error): facts.append(Fact(label: "region", value: error.description, ok: false))
        }
        do {
            let resolved = try await credentials.credentials()
            facts.append(Fact(label: "credentials", value: resolved.description, ok: true))
        } catch {
            facts.append(Fact(label: "credentials", value: "\(error)", ok: false))
        }
        for service in services {
            do {
                facts.append(Fact(label: "endpoint \(service.serviceId)", value: try endpoint(for: service).description, ok: true))
            } catch {
                facts.append(Fact(label: "endpoint \(service.serviceId)", value: "\(error)", ok: false))
            }
        }
        return facts
    }
}
